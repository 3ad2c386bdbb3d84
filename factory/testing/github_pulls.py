"""The fake GitHub's code-side changes: pull requests, reviews, merges, statuses, check runs.

A pull request's head sha is re-read from git whenever the PR is looked at, so
a push to the head branch shows up (and ``refs/pull/N/head`` follows it).
Merges are real git merges (``git merge-tree`` + ``commit-tree``) written with
an expected old value, so a base branch that moved meanwhile is not clobbered.
"""

from __future__ import annotations

import re
from typing import Any

from factory.testing.github_git import MergeConflictError
from factory.testing.github_json import JSON
from factory.testing.github_json_checks import check_run, check_suite
from factory.testing.github_json_checks import status as status_json
from factory.testing.github_json_git import commit
from factory.testing.github_model import (
    ApiError,
    CheckRun,
    CheckSuite,
    PullRequest,
    Repo,
    Review,
    Status,
    invalid,
    mergeable,
    not_found,
    now_iso,
    suite_state,
)
from factory.testing.github_push import push_payload
from factory.testing.github_state import Hub

STATUS_STATES = ("error", "failure", "pending", "success")
REVIEW_EVENTS = {
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "COMMENT": "COMMENTED",
}


def pull(hub: Hub, repo: Repo, number: int) -> PullRequest:
    """Return PR ``number`` with its head synced from git; raises ApiError 404 if none."""
    pr = repo.pulls.get(number)
    if pr is None:
        raise not_found()
    issue = repo.issues[number]
    if issue.state == "open":
        sha = repo.git.resolve(f"refs/heads/{pr.head_ref}")
        if sha is not None and sha != pr.head_sha:
            pr.head_sha = sha
            repo.git.set_ref(f"refs/pull/{number}/head", sha)
            hub._issue_hook(repo, issue, "synchronize", repo.owner)
    return pr


def pr_json(hub: Hub, repo: Repo, pr: PullRequest) -> JSON:
    """Return the full pull request object, with ``mergeable`` computed by git."""
    return hub.render.pull(repo, pr, mergeable(repo, pr))


def create_pull(hub: Hub, repo: Repo, actor: str, data: dict[str, Any]) -> PullRequest:
    """Open a PR from ``data`` (title, head, base, body, draft); ApiError 422 when invalid."""
    head = str(data.get("head") or "").split(":")[-1]
    base = str(data.get("base") or "")
    if not data.get("title"):
        raise invalid("PullRequest", "title", "missing_field")
    head_sha = repo.git.resolve(f"refs/heads/{head}") if head else None
    if head_sha is None:
        raise invalid("PullRequest", "head")
    if repo.git.resolve(f"refs/heads/{base}") is None:
        raise invalid("PullRequest", "base")
    for other in repo.pulls.values():
        if (other.head_ref, other.base_ref) == (head, base) and repo.issues[
            other.number
        ].state == "open":
            raise ApiError(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {repo.owner}:{head}.",
                    }
                ],
            )
    if repo.git.is_ancestor(head_sha, f"refs/heads/{base}"):
        raise ApiError(
            422,
            "Validation Failed",
            [
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"No commits between {base} and {head}",
                }
            ],
        )
    issue = hub.create_issue(repo, actor, str(data["title"]), data.get("body"), is_pr=True)
    pr = PullRequest(issue.number, hub.next_id(), head, base, head_sha, bool(data.get("draft")))
    repo.pulls[pr.number] = pr
    repo.git.set_ref(f"refs/pull/{pr.number}/head", head_sha)
    hub._issue_hook(repo, issue, "opened", actor)
    return pr


def create_review(hub: Hub, repo: Repo, number: int, actor: str, data: dict[str, Any]) -> Review:
    """Submit a review (APPROVE / REQUEST_CHANGES / COMMENT) as ``actor``; ApiError 422 if bad."""
    pr = pull(hub, repo, number)
    event = str(data.get("event") or "COMMENT")
    if event not in REVIEW_EVENTS:
        raise invalid("PullRequestReview", "event")
    body = str(data.get("body") or "")
    if event != "APPROVE" and not body:
        raise ApiError(422, "Unprocessable Entity", [f"Body is required when using {event}"])
    if actor == repo.issues[number].user and event != "COMMENT":
        raise ApiError(422, "Unprocessable Entity", ["Can not approve your own pull request"])
    review = Review(
        hub.next_id(),
        number,
        actor,
        REVIEW_EVENTS[event],
        body,
        str(data.get("commit_id") or pr.head_sha),
        now_iso(),
    )
    pr.reviews.append(review)
    hub.emit(
        "pull_request_review",
        repo,
        actor,
        {
            "action": "submitted",
            "review": hub.render.review(repo, review),
            "pull_request": pr_json(hub, repo, pr),
        },
    )
    return review


def merge_pull(hub: Hub, repo: Repo, number: int, actor: str, data: dict[str, Any]) -> JSON:
    """Merge PR ``number`` with real git; return GitHub's merge reply.

    Raises ApiError 405 when it is not mergeable, 409 when ``sha`` is not the head sha.
    """
    pr = pull(hub, repo, number)
    issue = repo.issues[number]
    user = hub.users.get(actor)
    if user is None or user.permission not in ("admin", "maintain", "write"):
        raise ApiError(403, "Must have push access to repository")
    if pr.merged or issue.state != "open":
        raise ApiError(405, "Pull Request is not mergeable")
    if data.get("sha") and data["sha"] != pr.head_sha:
        raise ApiError(409, "Head branch was modified. Review and try the merge again.")
    method = str(data.get("merge_method") or "merge")
    if method not in ("merge", "squash"):
        raise ApiError(405, f"{method.capitalize()} merges are not allowed on this repository.")
    if method == "merge":
        title = data.get("commit_title") or (
            f"Merge pull request #{number} from {repo.owner}/{pr.head_ref}"
        )
        detail = data.get("commit_message") or issue.title
    else:
        title = data.get("commit_title") or f"{issue.title} (#{number})"
        detail = data.get("commit_message") or ""
    message = f"{title}\n\n{detail}".strip() + "\n"
    before = repo.git.resolve(f"refs/heads/{pr.base_ref}") or ""
    try:
        sha = repo.git.merge(pr.base_ref, pr.head_sha, method, message)
    except MergeConflictError as exc:
        raise ApiError(405, "Pull Request is not mergeable") from exc
    pr.merged, pr.merged_at, pr.merged_by, pr.merge_commit_sha = True, now_iso(), actor, sha
    hub.record(repo, issue, actor, "merged", commit_id=sha)
    hub.close(repo, issue, actor, None)
    if pr.base_ref == repo.default_branch:
        for linked in closed_by(issue.body or ""):
            target = repo.issues.get(linked)
            if target is not None and not target.is_pr and target.state == "open":
                hub.close(repo, target, actor, "completed")
    hub.emit("push", repo, actor, push_payload(repo, pr.base_ref, before, sha, actor))
    return {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}


_CLOSING = re.compile(r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b:?\s+#(\d+)", re.IGNORECASE)
"""GitHub's closing keywords followed by an issue reference in the same repository."""


def closed_by(body: str) -> list[int]:
    """Return the issue numbers a pull request body closes on merge into the default branch,
    as GitHub reads its closing keywords (close, closes, closed, fix, …, resolved)."""
    return [int(n) for n in dict.fromkeys(_CLOSING.findall(body))]


def create_status(hub: Hub, repo: Repo, sha: str, actor: str, data: dict[str, Any]) -> Status:
    """Record a commit status; ApiError 422 for a bad state or an unknown commit."""
    state = data.get("state")
    if state not in STATUS_STATES:
        raise invalid("Status", "state")
    resolved = repo.git.resolve(sha)
    if resolved is None:
        raise ApiError(422, f"No commit found for SHA: {sha}")
    status = Status(
        hub.next_id(),
        resolved,
        str(state),
        str(data.get("context") or "default"),
        data.get("description"),
        data.get("target_url"),
        actor,
        now_iso(),
    )
    repo.statuses.append(status)
    hub.emit(
        "status",
        repo,
        actor,
        {
            "id": status.id,
            "sha": resolved,
            "name": repo.full_name,
            "target_url": status.target_url,
            "context": status.context,
            "description": status.description,
            "state": status.state,
            "commit": commit(hub.render, repo, resolved),
            "branches": [],
            "created_at": status.created_at,
            "updated_at": status.created_at,
        },
    )
    return status


def combined_status(hub: Hub, repo: Repo, ref: str) -> JSON:
    """Return the combined status of ``ref`` (latest per context); ApiError 404 if no commit."""
    sha = repo.git.resolve(ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    latest: dict[str, Status] = {}
    for status in repo.statuses:
        if status.sha == sha:
            latest[status.context] = status
    items = sorted(latest.values(), key=lambda s: s.id)
    states = {s.state for s in items}
    if states & {"failure", "error"}:
        overall = "failure"
    elif not items or "pending" in states:
        overall = "pending"
    else:
        overall = "success"
    url = hub.render.repo_url(repo)
    return {
        "state": overall,
        "statuses": [status_json(hub.render, repo, s, with_creator=False) for s in items],
        "sha": sha,
        "total_count": len(items),
        "repository": hub.render.repo(repo, minimal=True),
        "commit_url": f"{url}/commits/{sha}",
        "url": f"{url}/commits/{sha}/status",
    }


def save_check_run(
    hub: Hub,
    repo: Repo,
    actor: str,
    data: dict[str, Any],
    run: CheckRun | None = None,
    app: str = "fake-ci",
) -> CheckRun:
    """Create (``run`` None) or update a check run from ``data``; ApiError 422 if invalid.

    A new run of App ``app`` joins that App's check suite on its commit (made if absent).
    """
    created = run is None
    if run is None:
        if not data.get("name"):
            raise invalid("CheckRun", "name", "missing_field")
        sha = repo.git.resolve(str(data.get("head_sha") or ""))
        if sha is None:
            raise invalid("CheckRun", "head_sha")
        run = CheckRun(
            hub.next_id(), sha, str(data["name"]), "queued", None, now_iso(), None, None, None
        )
        run.app_slug = app
        suite = hub.check_suite(repo, sha, app)
        run.suite_id = suite.id
        repo.check_runs.append(run)
    for key in ("name", "details_url", "external_id", "status", "conclusion", "started_at"):
        if key in data:
            setattr(run, key, data[key])
    if "output" in data:
        run.output = dict(data["output"] or {})
    if run.conclusion is not None:
        run.status = "completed"
        run.completed_at = data.get("completed_at") or run.completed_at or now_iso()
    for suite in repo.check_suites:
        if suite.id == run.suite_id:
            suite.updated_at = now_iso()
    if created or run.status == "completed":
        # GitHub sends check_run webhooks on creation and completion only (no "updated").
        action = "created" if created else "completed"
        own = next((x for x in repo.check_suites if x.id == run.suite_id), None)
        body = check_run(hub.render, repo, run)
        if own is not None:  # a webhook's check run carries its whole suite
            body["check_suite"] = {
                k: v for k, v in check_suite(hub.render, repo, own).items() if k != "repository"
            }
        hub.emit("check_run", repo, actor, {"action": action, "check_run": body})
        if own is not None and run.status == "completed":
            _suite_completed(hub, repo, actor, own)
    return run


def _suite_completed(hub: Hub, repo: Repo, actor: str, suite: CheckSuite) -> None:
    """Send ``check_suite.completed`` once all of the suite's runs are completed, as GitHub
    does (again after a re-run completes it anew)."""
    if suite_state(repo, suite)[0] != "completed":
        return
    body = check_suite(hub.render, repo, suite)
    body.pop("repository", None)
    hub.emit("check_suite", repo, actor, {"action": "completed", "check_suite": body})
