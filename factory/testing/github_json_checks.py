"""JSON shapes of the fake GitHub's CI objects: commit statuses, check runs and suites, Apps."""

from __future__ import annotations

import zlib

from factory.testing.github_json import HTML, JSON, Renderer
from factory.testing.github_model import (
    AppConfig,
    CheckRun,
    CheckSuite,
    Repo,
    Status,
    suite_runs,
    suite_state,
)

_NODE = "MDA6RW50aXR5MQ=="
_CREATED = "2020-01-01T00:00:00Z"
APP_PERMISSIONS = {"issues": "write", "pull_requests": "write", "contents": "write"}
APP_EVENTS = ["check_run", "issue_comment", "issues", "pull_request", "pull_request_review"]
KNOWN_APP_IDS = {"fake-ci": 1, "github-actions": 15368}


def app_id_of(slug: str) -> int:
    """Return the id of the App called ``slug`` (GitHub's own for github-actions, stable)."""
    return KNOWN_APP_IDS.get(slug) or 100_000 + zlib.crc32(slug.encode()) % 900_000


def app(render: Renderer, config: AppConfig) -> JSON:
    """Return the ``integration`` object of an App (``GET /app``, a check run's ``app``)."""
    return {
        "id": config.app_id,
        "slug": config.slug,
        "node_id": "A_kwDOFAKE",
        "client_id": f"Iv1.{config.app_id:016x}",
        "owner": render.user(config.slug),
        "name": config.slug,
        "description": "",
        "external_url": f"{HTML}/apps/{config.slug}",
        "html_url": f"{HTML}/apps/{config.slug}",
        "created_at": _CREATED,
        "updated_at": _CREATED,
        "permissions": dict(APP_PERMISSIONS),
        "events": list(APP_EVENTS),
    }


def status(render: Renderer, repo: Repo, item: Status, with_creator: bool = True) -> JSON:
    """Return a commit status object (the combined view omits ``creator``)."""
    body: JSON = {
        "url": f"{render.repo_url(repo)}/statuses/{item.sha}",
        "avatar_url": "https://avatars.githubusercontent.com/u/1000?v=4",
        "id": item.id,
        "node_id": _NODE,
        "state": item.state,
        "description": item.description,
        "target_url": item.target_url,
        "context": item.context,
        "created_at": item.created_at,
        "updated_at": item.created_at,
    }
    if with_creator:
        body["creator"] = render.user(item.creator)
    return body


def pull_refs(render: Renderer, repo: Repo, sha: str) -> list[JSON]:
    """Return the ``pull_requests`` of a check run or suite on ``sha``: the open pull requests
    whose head is ``sha`` in this repository (GitHub lists none from forks), as references."""
    api = render.repo_url(repo)
    ref = {"id": repo.id, "url": api, "name": repo.name}
    out: list[JSON] = []
    for pr in repo.pulls.values():
        if pr.head_sha != sha or pr.head_fork or repo.issues[pr.number].state != "open":
            continue
        base_sha = repo.git.resolve(f"refs/heads/{pr.base_ref}") or ""
        out.append(
            {
                "url": f"{api}/pulls/{pr.number}",
                "id": pr.id,
                "number": pr.number,
                "head": {"ref": pr.head_ref, "sha": pr.head_sha, "repo": ref},
                "base": {"ref": pr.base_ref, "sha": base_sha, "repo": ref},
            }
        )
    return out


def check_run(render: Renderer, repo: Repo, run: CheckRun) -> JSON:
    """Return a check run object, unset fields filled as GitHub fills them.

    An unset ``external_id`` is ``""``; an unset ``details_url`` is the App's homepage.
    """
    api = f"{render.repo_url(repo)}/check-runs/{run.id}"
    owner = app(render, AppConfig(app_id_of(run.app_slug), run.app_slug))
    return {
        "id": run.id,
        "node_id": _NODE,
        "head_sha": run.head_sha,
        "external_id": run.external_id or "",
        "url": api,
        "html_url": f"{HTML}/{repo.full_name}/runs/{run.id}",
        "details_url": run.details_url or owner["external_url"],
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "output": {
            "title": run.output.get("title"),
            "summary": run.output.get("summary"),
            "text": run.output.get("text"),
            "annotations_count": len(run.output.get("annotations") or []),
            "annotations_url": f"{api}/annotations",
        },
        "name": run.name,
        "check_suite": {"id": run.suite_id},
        "app": owner,
        "pull_requests": pull_refs(render, repo, run.head_sha),
    }


def check_suite(render: Renderer, repo: Repo, suite: CheckSuite) -> JSON:
    """Return a check suite object, its status and conclusion summarizing its latest runs."""
    api = render.repo_url(repo)
    status, conclusion = suite_state(repo, suite)
    info = repo.git.commit_info(suite.head_sha)
    parents = repo.git.git("rev-list", "--parents", "-n", "1", suite.head_sha).split()[1:]
    who = {"name": info["name"], "email": info["email"]}
    return {
        "id": suite.id,
        "node_id": "CS_kwDOFAKE",
        "head_branch": suite.head_branch,
        "head_sha": suite.head_sha,
        "status": status,
        "conclusion": conclusion,
        "url": f"{api}/check-suites/{suite.id}",
        "before": parents[0] if parents else "0" * 40,
        "after": suite.head_sha,
        "pull_requests": pull_refs(render, repo, suite.head_sha),
        "app": app(render, AppConfig(app_id_of(suite.app_slug), suite.app_slug)),
        "repository": render.repo(repo, minimal=True),
        "created_at": suite.created_at,
        "updated_at": suite.updated_at,
        "rerequestable": True,
        "runs_rerequestable": True,
        "latest_check_runs_count": len(suite_runs(repo, suite)),
        "check_runs_url": f"{api}/check-suites/{suite.id}/check-runs",
        "head_commit": {
            "id": suite.head_sha,
            "tree_id": info["tree"],
            "message": info["message"].rstrip("\n"),
            "timestamp": info["date"],
            "author": who,
            "committer": who,
        },
    }
