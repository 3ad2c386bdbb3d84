"""``github_read`` actions for a failing check: its annotations and its job's log.

Both are untrusted data: written by build tools and by whatever code the check ran (a pull
request can print anything into its own CI log). The text is scrubbed (invisible code
points, markers, ANSI colour codes, secrets the process knows and credential-shaped
strings), cut to its last ``LOG_TAIL`` characters (a failure is at the end of a log), and
fenced as data with the check or job it came from.

The job log is fetched as GitHub serves it: ``GET /actions/jobs/{id}/logs`` answers 302
with a short-lived download link on another host; the requester follows it without the
token (PyGithub drops ``Authorization`` on a redirect to another host).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import islice

from github import GithubException
from github.Repository import Repository

from factory.forge.sanitize import scrub_text

LOG_TAIL = 6_000
"""Characters of a job log shown: its end, where the failure is."""
MAX_ANNOTATIONS = 50
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")

Fence = Callable[[str, str, str | None, str | None], str]
"""``authored(kind, author, association, text)`` of ``factory.forge.read_tool``."""


def clean_log(text: str, secrets: Sequence[str] = ()) -> str:
    """Return log ``text`` without ANSI codes, hidden code points, markers and secrets, cut to
    its last ``LOG_TAIL`` characters (with a note of the cut)."""
    clean = scrub_text(_ANSI.sub("", text), secrets)
    if len(clean) <= LOG_TAIL:
        return clean
    return f"[… {len(clean) - LOG_TAIL} earlier characters cut …]\n{clean[-LOG_TAIL:]}"


def check_annotations(repo: Repository, run_id: int, fence: Fence) -> str:
    """Return the annotations of check run ``run_id`` (path:line, level, title, message)."""
    run = repo.get_check_run(run_id)
    items = list(islice(run.get_annotations(), MAX_ANNOTATIONS))
    if not items:
        return f"check run {run.name} (id {run.id}) has no annotations"
    lines = []
    for a in items:
        where = f"{a.path}:{a.start_line}" + (
            f"-{a.end_line}" if a.end_line not in (None, a.start_line) else ""
        )
        text = "\n".join(x for x in (a.title, a.message, a.raw_details) if x)
        lines.append(f"{where} [{a.annotation_level}]\n{clean_log(text)}")
    app = run.app.slug if run.app is not None else "unknown app"
    head = f"{len(items)} annotations of check run {run.name} (id {run.id}, {run.conclusion}):"
    return f"{head}\n" + fence("check annotations", f"app {app}", "CHECK_RUN", "\n".join(lines))


def job_log(repo: Repository, job_id: int, fence: Fence) -> str:
    """Return the end of GitHub Actions job ``job_id``'s log (job id = its check run id).

    Raises GithubException when GitHub answers other than with the log.
    """
    url = f"{repo.url}/actions/jobs/{job_id}/logs"
    status, headers, body = repo.requester.requestJson("GET", url, follow_302_redirect=True)
    if status != 200:
        raise GithubException(status, {"message": body[:200] or "no log"}, headers)
    text = clean_log(body)
    return f"log of job {job_id} (its end):\n" + fence("job log", f"job {job_id}", "CI_LOG", text)
