"""Routes of the fake GitHub for check-run annotations and GitHub Actions job logs.

As GitHub does: ``GET /check-runs/{id}/annotations`` lists the ``output.annotations`` a
check run was created or updated with; ``GET /actions/jobs/{id}/logs`` answers ``302`` with
a ``Location`` on another path (real GitHub: a short-lived signed URL on another host),
whose ``GET`` returns the job's log as ``text/plain``. A job is a check run of the
``github-actions`` App (job id = check run id); another id is 404, as is a job whose log
was never recorded (``FakeGitHub.set_job_log``).
"""

from __future__ import annotations

import secrets
from typing import Any

from factory.testing.github_http import Reply, Request, Router, paginate
from factory.testing.github_json import HTML
from factory.testing.github_model import CheckRun, Repo, not_found

router = Router()

_FIELDS = ("start_line", "end_line", "start_column", "end_column", "title", "raw_details")


def _run(repo: Repo, run_id: int) -> CheckRun:
    for run in repo.check_runs:
        if run.id == run_id:
            return run
    raise not_found()


def annotation(repo: Repo, run: CheckRun, given: dict[str, Any]) -> dict[str, Any]:
    """Return one check-run annotation as GitHub lists it."""
    path = str(given.get("path") or "")
    start = given.get("start_line")
    body: dict[str, Any] = {field: given.get(field) for field in _FIELDS}
    body["end_line"] = body["end_line"] if body["end_line"] is not None else start
    return {
        "path": path,
        "blob_href": f"{HTML}/{repo.full_name}/blob/{run.head_sha}/{path}",
        "annotation_level": given.get("annotation_level", "failure"),
        "message": given.get("message", ""),
        **body,
    }


@router.add("GET", r"/check-runs/(?P<id>\d+)/annotations")
def list_annotations(req: Request) -> Reply:
    """GET /check-runs/{id}/annotations: the run's annotations, paginated."""
    run = _run(req.repo, int(req.params["id"]))
    given = run.output.get("annotations") or []
    items = [annotation(req.repo, run, a) for a in given if isinstance(a, dict)]
    return paginate(req, items)


@router.add("GET", r"/actions/jobs/(?P<id>\d+)/logs")
def job_logs(req: Request) -> Reply:
    """GET /actions/jobs/{id}/logs: 302 to a download link for the job's plain-text log."""
    req.login  # noqa: B018  (an anonymous caller gets 401 first, as on GitHub)
    job_id = int(req.params["id"])
    run = _run(req.repo, job_id)
    if run.app_slug != "github-actions" or job_id not in req.repo.job_logs:
        raise not_found()
    token = secrets.token_hex(16)
    req.repo.log_links[token] = job_id
    base = req.hub.render.api
    where = f"{base}/_fake/job-logs/{req.repo.full_name}/{token}"
    return Reply(302, None, {"location": where})


@router.add(
    "GET", r"/_fake/job-logs/(?P<owner>[^/]+)/(?P<name>[^/]+)/(?P<token>[0-9a-f]+)", repo=False
)
def download_log(req: Request) -> Reply:
    """GET of a log download link: the log text (404 for a token never issued)."""
    repo = req.hub.repo(f"{req.params['owner']}/{req.params['name']}")
    job_id = repo.log_links.get(req.params["token"])
    if job_id is None:
        raise not_found()
    return Reply(200, repo.job_logs[job_id], content_type="text/plain; charset=utf-8")
