"""The fake GitHub's state, as plain dataclasses (one repo's issues, PRs, labels...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from factory.testing.github_git import BareRepo, MergeConflictError

PERMISSIONS = ("admin", "maintain", "write", "triage", "read", "none")


# fmt: off
REPO_URL_KEYS = (
    "forks", "archive", "assignees", "blobs", "branches", "collaborators", "comments",
    "commits", "compare", "contents", "contributors", "deployments", "downloads", "events",
    "git_commits", "git_refs", "git_tags", "hooks", "issue_comment", "issue_events", "issues",
    "keys", "labels", "languages", "merges", "milestones", "notifications", "pulls",
    "releases", "stargazers", "statuses", "subscribers", "subscription", "tags", "teams",
    "trees",
)
# fmt: on


def now_iso() -> str:
    """Return the current UTC time the way GitHub writes it (``2017-10-10T16:00:00Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class User:
    """A GitHub account known to the fake, with its repo permission."""

    login: str
    id: int
    permission: str = "write"
    type: str = "User"


@dataclass
class Token:
    """A credential the fake accepts: whose it is and, for App tokens, when it expires."""

    login: str
    expires_at: datetime | None = None
    installation_id: int | None = None


@dataclass
class AppConfig:
    """The GitHub App the fake accepts JWTs for."""

    app_id: int
    slug: str
    public_key: str | None = None
    token_ttl_s: int = 3600


@dataclass
class Label:
    """A repository label."""

    id: int
    name: str
    color: str
    description: str | None = None
    default: bool = False


@dataclass
class Comment:
    """One issue or pull request comment."""

    id: int
    issue_number: int
    user: str
    body: str
    created_at: str
    updated_at: str


@dataclass
class IssueEvent:
    """One entry of an issue's event history (labeled, unlabeled, closed, ...)."""

    id: int
    issue_number: int
    actor: str
    event: str
    created_at: str
    label: Label | None = None
    commit_id: str | None = None


@dataclass
class Issue:
    """An issue, or the issue half of a pull request (``is_pr``)."""

    number: int
    id: int
    title: str
    body: str | None
    user: str
    created_at: str
    updated_at: str
    state: str = "open"
    state_reason: str | None = None
    closed_at: str | None = None
    closed_by: str | None = None
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    is_pr: bool = False
    locked: bool = False


@dataclass
class Review:
    """A pull request review."""

    id: int
    pr_number: int
    user: str
    state: str
    body: str
    commit_id: str
    submitted_at: str


@dataclass
class PullRequest:
    """The pull-request half of an issue: branches, merge state, reviews."""

    number: int
    id: int
    head_ref: str
    base_ref: str
    head_sha: str
    draft: bool = False
    merged: bool = False
    merged_at: str | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    reviews: list[Review] = field(default_factory=list)
    head_fork: str | None = None
    """``owner/name`` of the fork the head branch lives in (None: this repository)."""


@dataclass
class Status:
    """A commit status (``POST /statuses/{sha}``)."""

    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: str


@dataclass
class CheckRun:
    """A check run on a commit, with the output text used for failing-log lookups."""

    id: int
    head_sha: str
    name: str
    status: str
    conclusion: str | None
    started_at: str
    completed_at: str | None
    details_url: str | None
    external_id: str | None
    output: dict[str, Any] = field(default_factory=dict)
    app_slug: str = "fake-ci"
    suite_id: int = 0
    """The check suite it belongs to (one per head sha and App, made with the run)."""


SUITE_CONCLUSIONS = (
    "action_required",
    "startup_failure",
    "cancelled",
    "timed_out",
    "failure",
    "stale",
    "neutral",
    "success",
    "skipped",
)
"""Check run conclusions from the highest priority down: a suite concludes its runs' highest."""


@dataclass
class CheckSuite:
    """A check suite: the check runs of one App on one commit, summarized.

    ``status``/``conclusion`` are the suite's own only while it has no check runs (an App
    that has not started, or a test's hand-made suite); with runs they follow the runs.
    """

    id: int
    head_sha: str
    head_branch: str | None
    app_slug: str
    created_at: str
    updated_at: str
    status: str = "queued"
    conclusion: str | None = None


@dataclass
class Repo:
    """One fake repository: its bare git repo and everything GitHub keeps beside it."""

    owner: str
    name: str
    id: int
    default_branch: str
    git: BareRepo
    installation_id: int
    created_at: str
    labels: dict[str, Label] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    pulls: dict[int, PullRequest] = field(default_factory=dict)
    events: list[IssueEvent] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    check_runs: list[CheckRun] = field(default_factory=list)
    check_suites: list[CheckSuite] = field(default_factory=list)
    next_number: int = 1
    sub_issues: dict[int, list[int]] = field(default_factory=dict)
    """Parent issue number → its sub-issues' numbers, in order (GitHub's sub-issues)."""
    job_logs: dict[int, str] = field(default_factory=dict)
    """Plain-text log of each GitHub Actions job, by job (= check run) id."""
    log_links: dict[str, int] = field(default_factory=dict)
    """Issued log download tokens (the redirect target's secret part) → job id."""

    @property
    def full_name(self) -> str:
        """Return ``owner/name``."""
        return f"{self.owner}/{self.name}"

    def label(self, name: str) -> Label | None:
        """Return the label called ``name`` (case-insensitive, like GitHub) or None."""
        return self.labels.get(name.lower())


DOCS = "https://docs.github.com/rest"


class ApiError(Exception):
    """A GitHub-shaped error reply: status, message, optional ``errors`` list and headers."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[Any] | None = None,
        documentation_url: str = DOCS,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = errors
        self.documentation_url = documentation_url
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """Return the JSON error body GitHub would send."""
        out: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        out["documentation_url"] = self.documentation_url
        return out


def not_found() -> ApiError:
    """Return GitHub's plain 404."""
    return ApiError(404, "Not Found")


def invalid(resource: str, field_name: str, code: str = "invalid", docs: str = DOCS) -> ApiError:
    """Return GitHub's 422 "Validation Failed" naming one bad field."""
    return ApiError(
        422,
        "Validation Failed",
        [{"resource": resource, "code": code, "field": field_name}],
        documentation_url=docs,
    )


def association(repo: Repo, user: User | None) -> str:
    """Return GitHub's author_association of ``user`` on ``repo`` from its permission."""
    if user is None:
        return "NONE"
    if user.login == repo.owner:
        return "OWNER"
    if user.permission in ("admin", "maintain"):
        return "MEMBER"
    if user.permission in ("write", "triage"):
        return "COLLABORATOR"
    if user.permission == "read":
        return "CONTRIBUTOR"
    return "NONE"


def suite_runs(repo: Repo, suite: CheckSuite) -> list[CheckRun]:
    """Return the latest check run per name of ``suite`` (a re-run supersedes), oldest first."""
    latest: dict[str, CheckRun] = {}
    for run in repo.check_runs:
        if run.suite_id == suite.id and (run.name not in latest or run.id > latest[run.name].id):
            latest[run.name] = run
    return sorted(latest.values(), key=lambda r: r.id)


def suite_state(repo: Repo, suite: CheckSuite) -> tuple[str, str | None]:
    """Return ``(status, conclusion)`` of ``suite`` as GitHub summarizes its latest runs.

    Without runs, its own; queued while every run is queued, in_progress until every run
    completed, then completed with the highest priority conclusion (``SUITE_CONCLUSIONS``).
    """
    runs = suite_runs(repo, suite)
    if not runs:
        return suite.status, suite.conclusion
    if any(r.status != "completed" for r in runs):
        return ("queued" if all(r.status == "queued" for r in runs) else "in_progress"), None
    rank = {c: i for i, c in enumerate(SUITE_CONCLUSIONS)}
    return "completed", min((r.conclusion or "" for r in runs), key=lambda c: rank.get(c, -1))


def mergeable(repo: Repo, pr: PullRequest) -> bool | None:
    """Return whether the PR merges cleanly into its base now (None once merged/closed)."""
    if pr.merged or repo.issues[pr.number].state != "open":
        return None
    try:
        repo.git.merge_tree(f"refs/heads/{pr.base_ref}", pr.head_sha)
    except MergeConflictError:
        return False
    return True
