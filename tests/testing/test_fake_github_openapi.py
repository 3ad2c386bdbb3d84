"""Every answer and webhook of FakeGitHub fits GitHub's published OpenAPI description.

One scenario drives every route FakeGitHub serves (PyGithub where it has a call, raw HTTP
otherwise, errors included); each answer and each webhook it emits is validated against
the schemas vendored in tests/data/openapi/ (regenerate.py there refreshes them).
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from github import Auth, Github, GithubException

from factory.testing.fake_github import FakeGitHub
from factory.testing.github_json import JSON
from tests.testing.openapi import OPENAPI, RECORDED, Exchange, description, record, route_name

REPO = "acme/widgets"
R = f"/repos/{REPO}"


@dataclass
class Run:
    """What the scenario left: the answers recorded, the webhooks emitted, the routes served."""

    exchanges: list[Exchange]
    webhooks: list[tuple[str, JSON]]
    routes: set[str]


def client(fake: FakeGitHub, token: str) -> Github:
    """Return a PyGithub client on ``fake`` for ``token`` (no throttling, no retries)."""
    return Github(
        base_url=fake.api_url,
        auth=Auth.Token(token),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


def raw(fake: FakeGitHub, method: str, path: str, body: Any = None, **headers: str) -> int:
    """Send one raw request (alice's token unless ``Authorization`` is given); return status."""
    url = urlsplit(fake.api_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    sent = {"Accept": "application/vnd.github+json", "Authorization": "token t-alice", **headers}
    conn.request(method, path, json.dumps(body).encode() if body is not None else None, sent)
    status = conn.getresponse().status
    conn.close()
    return status


def refused(call: Any, *args: Any, **kwargs: Any) -> int:
    """Make a PyGithub call that must fail; return its HTTP status."""
    with pytest.raises(GithubException) as err:
        call(*args, **kwargs)
    return int(err.value.status)


def issues_side(fake: FakeGitHub, gh: Github) -> None:
    """Drive the repo, user, label, issue, comment, event and search routes."""
    repo = gh.get_repo(REPO)
    gh.get_user().login  # noqa: B018
    gh.get_user("bob").login  # noqa: B018
    refused(gh.get_user, "nobody")
    gh.get_rate_limit()
    repo.get_collaborator_permission("bob")
    label = repo.create_label("factory:ready", "0e8a16", "ready")
    refused(repo.create_label, "factory:ready", "0e8a16")
    label.edit("factory:ready", "1d76db", "ready to build")
    list(repo.get_labels())
    repo.create_label("doomed", "ededed").delete()
    refused(repo.get_label, "doomed")
    issue = repo.create_issue(title="Bug", body="broken", labels=["bug"])
    raw(fake, "POST", f"{R}/issues", {"body": "no title"})
    issue.add_to_labels("factory:ready")
    issue.set_labels("factory:ready", "enhancement")
    issue.remove_from_labels("enhancement")
    refused(issue.remove_from_labels, "enhancement")
    list(issue.get_labels())
    comment = issue.create_comment("on it")
    comment.edit("on it, really")
    repo.get_issue(issue.number).get_comment(comment.id)
    list(issue.get_comments())
    issue.edit(title="Bug!", state="closed", state_reason="completed")
    issue.edit(state="open")
    list(issue.get_events())
    list(repo.get_issues(state="all"))
    child = repo.create_issue(title="No body", labels=["factory:ready"])
    raw(fake, "POST", f"{R}/issues/{issue.number}/sub_issues", {"sub_issue_id": child.id})
    raw(fake, "POST", f"{R}/issues/{issue.number}/sub_issues", {"sub_issue_id": child.id})
    raw(fake, "GET", f"{R}/issues/{issue.number}/sub_issues")
    raw(fake, "GET", f"{R}/issues/{child.number}/parent")
    raw(fake, "DELETE", f"{R}/issues/{issue.number}/sub_issue", {"sub_issue_id": child.id})
    raw(fake, "GET", f"{R}/issues/{child.number}/parent")
    list(gh.search_issues(f"repo:{REPO} is:issue label:factory:ready"))
    raw(fake, "GET", "/search/issues")


def code_side(fake: FakeGitHub, gh: Github) -> None:
    """Drive the ref, branch, pull, review, merge, status, check-run, suite and git data routes."""
    repo = gh.get_repo(REPO)
    main = repo.get_branch("main").commit.sha
    refused(repo.get_branch, "nope")
    repo.create_git_ref("refs/heads/claim", main)
    refused(repo.create_git_ref, "refs/heads/claim", main)
    ref = repo.get_git_ref("heads/claim")
    refused(repo.get_git_ref, "heads/none")
    list(repo.get_git_refs())
    list(repo.get_git_matching_refs("heads/"))
    raw(fake, "GET", f"{R}/git/refs/heads/claim")
    fake.commit_files(REPO, "feature", {"docs/new.md": "new\n"}, "Add docs")
    fake.repo(REPO).git.set_ref("refs/heads/feature2", main)
    fake.commit_files(REPO, "feature2", {"docs/other.md": "other\n"}, "Add other")
    head = repo.get_branch("feature").commit.sha
    ref.edit(head, force=True)
    refused(ref.edit, main)
    ref.delete()
    refused(ref.delete)
    pr = repo.create_pull(title="Add docs", body="b", head="feature2", base="main")
    refused(repo.create_pull, title="Again", body="b", head="feature2", base="main")
    pr.edit(title="Add other docs", body="better")
    list(pr.get_files())
    raw(fake, "GET", f"{R}/pulls/{pr.number}", Accept="application/vnd.github.diff")
    client(fake, "t-bob").get_repo(REPO).get_pull(pr.number).create_review(event="APPROVE")
    refused(pr.create_review, event="APPROVE")
    list(pr.get_reviews())
    assert pr.is_merged() is False
    refused(pr.merge, sha=main)
    pr.merge(merge_method="squash")
    assert pr.is_merged() is True
    refused(pr.merge)
    list(repo.get_pulls(state="all"))
    commit = repo.get_commit("main")
    commit.create_status("success", context="lint", description="ok")
    commit.get_combined_status()
    raw(fake, "GET", f"{R}/commits/{commit.sha}/statuses")
    assert [p.number for p in commit.get_pulls()] == [pr.number]
    assert raw(fake, "GET", f"{R}/commits/{'0' * 40}/pulls") == 422
    run = repo.create_check_run("tests", head_sha=commit.sha, status="queued")
    run.edit(status="in_progress")
    run.edit(conclusion="failure", output={"title": "t", "summary": "s", "text": "log"})
    repo.get_check_run(run.id)
    list(commit.get_check_runs())
    fake.add_check_suite(REPO, commit.sha, app="github-actions")
    assert [s.status for s in commit.get_check_suites()] == ["completed", "queued"]
    actions_side(fake, gh, commit.sha)
    repo.get_check_suite(run.check_suite.id).conclusion  # noqa: B018
    refused(lambda: repo.get_check_suite(1).status)
    refused(repo.get_commit, "0" * 40)
    git_commit = repo.get_git_commit(commit.sha)
    repo.create_git_commit("hand made", repo.get_git_tree(git_commit.tree.sha), [git_commit])
    repo.get_git_tree(commit.sha, recursive=True)
    refused(repo.get_git_tree, "0" * 40)


def actions_side(fake: FakeGitHub, gh: Github, sha: str) -> None:
    """Drive the annotation and job log routes (a failing GitHub Actions job on ``sha``)."""
    note = {"path": "src/app.py", "start_line": 1, "annotation_level": "failure", "message": "x"}
    job = fake.add_check_run(
        REPO, sha, "test", "failure", as_user="alice", app="github-actions", annotations=[note]
    )
    fake.set_job_log(REPO, job.id, "FAILED test_app\n")
    list(gh.get_repo(REPO).get_check_run(job.id).get_annotations())
    status, _, _ = gh.get_repo(REPO).requester.requestJson(
        "GET", f"{R}/actions/jobs/{job.id}/logs", follow_302_redirect=True
    )
    assert status == 200
    raw(fake, "GET", f"{R}/actions/jobs/{job.id + 1000}/logs")
    raw(fake, "GET", "/_fake/job-logs/acme/widgets/00")


def app_side(fake: FakeGitHub) -> None:
    """Drive the GitHub App routes with a JWT of the registered app."""
    fake.register_app(42, slug="factory")
    now = int(time.time())
    token = jwt.encode({"iat": now - 60, "exp": now + 540, "iss": "42"}, "k" * 32, "HS256")
    bearer = f"Bearer {token}"
    raw(fake, "GET", "/app", Authorization=bearer)
    raw(fake, "GET", f"{R}/installation", Authorization=bearer)
    path = f"/app/installations/{fake.installation_id(REPO)}/access_tokens"
    raw(fake, "POST", path, Authorization=bearer)
    raw(fake, "POST", "/app/installations/1/access_tokens", Authorization=bearer)


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    """Run the scenario once on a fresh FakeGitHub that records every answer."""
    with FakeGitHub() as fake:
        routes = {route_name(r) for r in fake.app.router.routes}
        exchanges = record(fake)
        fake.create_repo(REPO, files={"README.md": "# widgets\n", "src/app.py": "print('hi')\n"})
        fake.add_user("alice", token="t-alice", permission="admin")
        fake.add_user("bob", token="t-bob", permission="write")
        gh = client(fake, "t-alice")
        issues_side(fake, gh)
        code_side(fake, gh)
        app_side(fake)
        yield Run(exchanges, list(fake.webhook_log), routes)


def test_every_route_names_its_operations(run: Run) -> None:
    """operations.json maps exactly the routes FakeGitHub serves to OpenAPI operations."""
    assert sorted(description().routes) == sorted(run.routes)


def test_scenario_exercises_every_route(run: Run) -> None:
    """The scenario reaches every route FakeGitHub serves, so none escapes validation."""
    assert sorted({e.route for e in run.exchanges}) == sorted(run.routes)


def test_answers_fit_the_description(run: Run) -> None:
    """Every answer the scenario got fits its operation's response schema for its status."""
    assert description().violations(run.exchanges, []) == []


def test_webhooks_fit_the_description(run: Run) -> None:
    """Every webhook the scenario caused fits the published payload schema of its event."""
    assert description().violations([], run.webhooks) == []


def test_validation_catches_a_missing_required_field() -> None:
    """A pull request without ``_links`` is a violation (the check is not vacuous)."""
    errors = description().response_errors("pulls/get", 200, {"url": "x"})
    assert "(root): '_links' is a required property" in errors


def test_undocumented_success_status_is_a_violation() -> None:
    """A 201 from an operation documented to answer 200 is reported."""
    errors = description().response_errors("issues/get", 201, {})
    assert errors == ["status 201 is not a documented answer of issues/get"]


@pytest.mark.parametrize(("operation", "field"), sorted(RECORDED))
def test_tolerated_field_is_still_absent_from_its_recording(operation: str, field: str) -> None:
    """A required field is only excused while the real recording it follows still lacks it."""
    pairs = json.loads((OPENAPI.parent / "github-api" / RECORDED[operation, field]).read_text())
    assert [field in pair["response"] for pair in pairs] == [False]
