"""Opening the factory's pull requests, and finding them again.

``open_pull_request`` is idempotent: before creating, it looks for an open pull request
from the same head branch, or one whose body carries the output's hidden marker, and
returns that instead, so a retry after a crash makes no second pull request. Merging is
decided in ``factory.forge.merge_gate``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import structlog
from github.PullRequest import PullRequest
from github.Repository import Repository

from factory.forge.markers import append_marker, has_marker
from factory.forge.patches import PushedBranch
from factory.forge.risk import RiskAssessment, risk_section
from factory.forge.sanitize import sanitize_body

log = structlog.get_logger(__name__)


def closes_line(body: str, issue_number: int) -> str:
    """Return ``body`` ending with ``Closes #N`` unless it already closes issue ``N``."""
    pattern = rf"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?\s+#{issue_number}\b"
    if re.search(pattern, body):
        return body
    return (
        f"{body.rstrip()}\n\nCloses #{issue_number}" if body.strip() else f"Closes #{issue_number}"
    )


def find_pull_request(repo: Repository, branch: str, key: str) -> PullRequest | None:
    """Return the open pull request from ``branch`` or carrying marker ``key``, or None."""
    for pr in repo.get_pulls(state="open", head=f"{repo.owner.login}:{branch}"):
        if pr.head.ref == branch:
            return pr
    for pr in repo.get_pulls(state="open"):
        if has_marker(pr.body, key):
            return pr
    return None


def open_pull_request(
    repo: Repository,
    pushed: PushedBranch,
    *,
    title: str,
    body: str,
    issue_number: int | None,
    labels: Sequence[str],
    draft: bool,
    run_id: str,
    key: str,
    base: str | None = None,
    secrets: Collection[str] = (),
    risk: RiskAssessment | None = None,
) -> PullRequest:
    """Open (or find again) the pull request of ``pushed`` into ``base`` (default branch).

    ``title`` and ``body`` are final: the output gate prepared them (sanitized, prefixed,
    capped). The body gets ``Closes #issue_number`` when absent and the hidden marker for
    ``run_id``/``key``; ``labels`` are put on it (also on a found one, in case a crash came
    between) and ``draft`` decides draft. With ``risk``, the body names its tier and reasons
    (sanitized with ``secrets``: it names paths the agent chose) and the PR gets the tier's
    labels (needs-human for a tier that asks for a human). Returns the PullRequest.
    Raises GithubException when GitHub refuses; ValueError if ``run_id``/``key`` cannot go
    in a marker.
    """
    found = find_pull_request(repo, pushed.branch, key)
    if found is None:
        text = body
        if risk is not None:
            text = f"{text.rstrip()}\n\n{sanitize_body(risk_section(risk), secrets)}"
        if issue_number is not None:
            text = closes_line(text, issue_number)
        pr = repo.create_pull(
            base=base or repo.default_branch,
            head=pushed.branch,
            title=title,
            body=append_marker(text, run_id, key),
            draft=draft,
        )
        log.info("pull_request_opened", run_id=run_id, number=pr.number, branch=pushed.branch)
    else:
        pr = found
        log.info("pull_request_found", run_id=run_id, number=pr.number, branch=pushed.branch)
    wanted = [*labels, *(risk.labels if risk is not None else ())]
    missing = [
        label for label in dict.fromkeys(wanted) if label not in {lb.name for lb in pr.labels}
    ]
    if missing:
        pr.add_to_labels(*missing)
    return pr
