"""FakeGitHub: a stateful GitHub REST server on 127.0.0.1, backed by real bare git repos.

Use it as a context manager; point PyGithub at ``fake.api_url``::

    with FakeGitHub() as fake:
        fake.create_repo("acme/widgets", files={"README.md": "hi\\n"})
        fake.add_user("alice", token="t-alice", permission="admin")
        gh = Github(base_url=fake.api_url, auth=Auth.Token("t-alice"))

Tokens map to users; every change (over HTTP or through the act-as helpers
below) records issue events and a webhook-shaped ``(event, payload)`` in
``webhook_log`` (and calls ``on_event`` if set). Git refs always come from the
bare repository, so pushes to ``clone_url(repo)`` are seen by the API.
"""

from __future__ import annotations

import shutil
import tempfile
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from factory.testing import github_pulls
from factory.testing.github_http import App, Router, make_server
from factory.testing.github_json import JSON
from factory.testing.github_limits import Injected
from factory.testing.github_model import (
    AppConfig,
    CheckRun,
    CheckSuite,
    Comment,
    Issue,
    PullRequest,
    Repo,
    User,
    now_iso,
)
from factory.testing.github_routes_actions import router as actions_router
from factory.testing.github_routes_checks import router as checks_router
from factory.testing.github_routes_code import router as code_router
from factory.testing.github_routes_gitdata import router as gitdata_router
from factory.testing.github_routes_issues import router as issues_router
from factory.testing.github_routes_subissues import router as subissues_router
from factory.testing.github_state import EventHook, Hub
from factory.testing.served import LoopbackServer


def _router() -> Router:
    router = Router()
    router.routes = [
        *issues_router.routes,
        *subissues_router.routes,
        *code_router.routes,
        *checks_router.routes,
        *gitdata_router.routes,
        *actions_router.routes,
    ]
    return router


class FakeGitHub(LoopbackServer):
    """A real HTTP server that answers the GitHub REST subset factoryd uses."""

    thread_name = "fake-github"

    def __init__(self, root: Path | None = None) -> None:
        """Keep state under ``root`` (a fresh temp dir, removed on stop, when None)."""
        super().__init__()
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="fake-github-")) if root is None else root
        self.hub = Hub(self.root / "git", "http://127.0.0.1:0")
        self.app = App(self.hub, _router())

    # -- lifecycle ------------------------------------------------------------

    def _make_server(self) -> ThreadingHTTPServer:
        return make_server(self.app)

    def _on_started(self, port: int) -> None:
        self.hub.render.api = f"http://127.0.0.1:{port}"

    def _on_stopped(self) -> None:
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def api_url(self) -> str:
        """Return the base URL for clients (``http://127.0.0.1:PORT``); start() first."""
        if self._server is None:
            raise RuntimeError("FakeGitHub is not started")
        return self.hub.render.api

    # -- setup ----------------------------------------------------------------

    def create_repo(
        self,
        full_name: str,
        files: dict[str, str | bytes] | None = None,
        default_branch: str = "main",
    ) -> Repo:
        """Create ``owner/name`` whose default branch holds ``files`` (README.md if None).

        Raises ValueError for a malformed or taken name.
        """
        with self.hub.lock:
            content: dict[str, str | bytes] = (
                files if files is not None else {"README.md": f"# {full_name}\n"}
            )
            return self.hub.create_repo(full_name, content, default_branch)

    def add_user(
        self, login: str, token: str | None = None, permission: str = "write", kind: str = "User"
    ) -> User:
        """Register a user (permission: admin/maintain/write/triage/read/none) and its token.

        Raises ValueError for an unknown permission.
        """
        with self.hub.lock:
            return self.hub.add_user(login, token, permission, kind)

    def register_app(
        self,
        app_id: int,
        slug: str = "factory",
        public_key: str | None = None,
        token_ttl_s: int = 3600,
    ) -> None:
        """Accept JWTs issued by App ``app_id`` (signature checked when ``public_key`` is given)."""
        self.hub.app = AppConfig(app_id, slug, public_key, token_ttl_s)

    def installation_id(self, full_name: str) -> int:
        """Return the App installation id of ``full_name``."""
        return self.repo(full_name).installation_id

    def clone_url(self, full_name: str) -> str:
        """Return a ``file://`` URL of the repo's bare git repository (clone/fetch/push)."""
        return self.repo(full_name).git.path.as_uri()

    def inject_rate_limit(
        self, n: int = 1, retry_after: int = 1, status: int = 403, secondary: bool = False
    ) -> None:
        """Answer the next ``n`` requests with a rate-limit error carrying ``retry-after``.

        ``secondary`` sends GitHub's secondary-limit message; without it the message is the
        primary one (with retry-after, which GitHub's primary limits do not send: use
        ``inject_primary_rate_limit`` for those).
        """
        with self.hub.lock:
            self.app.limits.injected.append(Injected(n, retry_after, status, secondary))

    def inject_secondary_rate_limit(
        self, n: int = 1, retry_after: int = 60, status: int = 403
    ) -> None:
        """Answer the next ``n`` requests with GitHub's secondary limit (403/429, retry-after)."""
        self.inject_rate_limit(n, retry_after, status, secondary=True)

    def inject_primary_rate_limit(
        self, reset_in: float = 2.0, status: int = 403, resource: str = "core"
    ) -> None:
        """Spend ``resource``'s primary limit for every caller until ``reset_in`` s from now.

        Until the reset second has passed every such request answers ``status`` (GitHub
        sends 403 or 429) with ``x-ratelimit-remaining: 0``, ``x-ratelimit-reset`` and no
        ``retry-after``, as GitHub does. Raises ValueError for an unknown resource.
        """
        with self.hub.lock:
            self.app.limits.spend_all(resource, reset_in, status)

    def set_rate_limit(self, resource: str, limit: int) -> None:
        """Give every caller's quota of ``resource`` ``limit`` requests per hour from now on."""
        with self.hub.lock:
            self.app.limits.limits[resource] = limit
            for (_, res), quota in self.app.limits.quotas.items():
                if res == resource:
                    quota.limit = limit

    # -- state for assertions ---------------------------------------------------

    def repo(self, full_name: str) -> Repo:
        """Return the state of ``full_name``; raises KeyError when there is none."""
        repo = self.hub.repos.get(full_name.lower())
        if repo is None:
            raise KeyError(f"no fake repo {full_name!r}")
        return repo

    def issue(self, full_name: str, number: int) -> Issue:
        """Return issue (or PR) ``number`` of ``full_name``; KeyError when absent."""
        return self.repo(full_name).issues[number]

    def pull(self, full_name: str, number: int) -> PullRequest:
        """Return pull request ``number`` of ``full_name``; KeyError when absent."""
        return self.repo(full_name).pulls[number]

    def labels_of(self, full_name: str, number: int) -> list[str]:
        """Return the label names on issue ``number``."""
        return list(self.issue(full_name, number).labels)

    @property
    def webhook_log(self) -> list[tuple[str, JSON]]:
        """Return every (event name, webhook payload) the fake has emitted, oldest first."""
        return self.hub.webhook_log

    @property
    def on_event(self) -> EventHook | None:
        """Return the callback called with (event name, payload) on each state change."""
        return self.hub.on_event

    @on_event.setter
    def on_event(self, hook: EventHook | None) -> None:
        self.hub.on_event = hook

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """Return (method, path, status) of every request served, oldest first."""
        return self.app.request_log

    # -- act-as helpers (no HTTP) -------------------------------------------------

    def create_issue(
        self,
        full_name: str,
        title: str,
        body: str | None = None,
        *,
        as_user: str,
        labels: list[str] | None = None,
    ) -> Issue:
        """Open an issue as ``as_user``; returns it."""
        with self.hub.lock:
            return self.hub.create_issue(self.repo(full_name), as_user, title, body, labels)

    def add_labels(self, full_name: str, number: int, *labels: str, as_user: str) -> Issue:
        """Label issue ``number`` as ``as_user`` (records labeled events and webhooks)."""
        with self.hub.lock:
            return self.hub.add_labels(self.repo(full_name), number, as_user, list(labels))

    def remove_label(self, full_name: str, number: int, label: str, *, as_user: str) -> Issue:
        """Remove ``label`` from issue ``number`` as ``as_user``."""
        with self.hub.lock:
            return self.hub.remove_label(self.repo(full_name), number, as_user, label)

    def comment(self, full_name: str, number: int, body: str, *, as_user: str) -> Comment:
        """Comment on issue/PR ``number`` as ``as_user``."""
        with self.hub.lock:
            return self.hub.add_comment(self.repo(full_name), number, as_user, body)

    def close_issue(
        self, full_name: str, number: int, *, as_user: str, reason: str = "completed"
    ) -> Issue:
        """Close issue ``number`` as ``as_user``."""
        with self.hub.lock:
            changes = {"state": "closed", "state_reason": reason}
            return self.hub.update_issue(self.repo(full_name), number, as_user, changes)

    def commit_files(
        self, full_name: str, branch: str, files: dict[str, str | bytes], message: str = "change"
    ) -> str:
        """Commit ``files`` onto ``branch`` (created from nothing if absent), like a push.

        Returns the new commit sha.
        """
        with self.hub.lock:
            return self.repo(full_name).git.commit_files(branch, files, message)

    def create_pull(
        self,
        full_name: str,
        head: str,
        title: str,
        body: str | None = None,
        *,
        as_user: str,
        base: str | None = None,
    ) -> PullRequest:
        """Open a PR from branch ``head`` into ``base`` (default branch) as ``as_user``."""
        with self.hub.lock:
            repo = self.repo(full_name)
            data: dict[str, Any] = {
                "head": head,
                "base": base or repo.default_branch,
                "title": title,
                "body": body,
            }
            return github_pulls.create_pull(self.hub, repo, as_user, data)

    def review(
        self, full_name: str, number: int, event: str, body: str = "", *, as_user: str
    ) -> None:
        """Submit a review (APPROVE / REQUEST_CHANGES / COMMENT) as ``as_user``."""
        with self.hub.lock:
            github_pulls.create_review(
                self.hub, self.repo(full_name), number, as_user, {"event": event, "body": body}
            )

    def set_status(
        self,
        full_name: str,
        sha: str,
        state: str,
        context: str = "ci",
        *,
        as_user: str,
        description: str | None = None,
    ) -> None:
        """Set a commit status on ``sha`` as ``as_user``."""
        with self.hub.lock:
            data = {"state": state, "context": context, "description": description}
            github_pulls.create_status(self.hub, self.repo(full_name), sha, as_user, data)

    def add_check_run(
        self,
        full_name: str,
        sha: str,
        name: str,
        conclusion: str | None = None,
        *,
        as_user: str,
        text: str | None = None,
        title: str | None = None,
        app: str = "fake-ci",
        annotations: list[dict[str, Any]] | None = None,
    ) -> CheckRun:
        """Record a check run of App ``app`` on ``sha`` (completed when ``conclusion`` is given).

        It joins the App's check suite on ``sha``, made when there is none.
        """
        with self.hub.lock:
            data: dict[str, Any] = {"name": name, "head_sha": sha}
            if conclusion is not None:
                data["conclusion"] = conclusion
            if text is not None or title is not None or annotations:
                data["output"] = {"title": title or name, "summary": title or name, "text": text}
                if annotations:
                    data["output"]["annotations"] = annotations
            repo = self.repo(full_name)
            return github_pulls.save_check_run(self.hub, repo, as_user, data, app=app)

    def set_job_log(self, full_name: str, job_id: int, text: str) -> None:
        """Record the plain-text log of GitHub Actions job ``job_id`` (a check run of the
        ``github-actions`` App), served through ``GET /actions/jobs/{id}/logs``."""
        with self.hub.lock:
            self.repo(full_name).job_logs[job_id] = text

    def add_check_suite(
        self, full_name: str, sha: str, status: str = "queued", *, app: str = "github-actions"
    ) -> CheckSuite:
        """Make App ``app``'s check suite on ``sha`` with no check runs yet, in ``status``.

        As GitHub does on a push, before the App creates its runs. Raises ValueError when
        ``status`` is not queued/in_progress or the App already has a suite on ``sha``.
        """
        if status not in ("queued", "in_progress"):
            raise ValueError(f"check suite status {status!r} is not queued or in_progress")
        with self.hub.lock:
            repo = self.repo(full_name)
            resolved = repo.git.resolve(sha)
            if resolved is None:
                raise ValueError(f"no commit {sha!r} in {full_name!r}")
            if any(s.head_sha == resolved and s.app_slug == app for s in repo.check_suites):
                raise ValueError(f"App {app!r} already has a check suite on {resolved}")
            return self.hub.check_suite(repo, resolved, app, status)

    def complete_check_suite(
        self, full_name: str, suite_id: int, conclusion: str = "success"
    ) -> CheckSuite:
        """Complete check suite ``suite_id`` (one without runs) with ``conclusion``.

        Raises KeyError when there is no such suite, ValueError when it has check runs
        (their conclusions make the suite's).
        """
        with self.hub.lock:
            repo = self.repo(full_name)
            suite = next((s for s in repo.check_suites if s.id == suite_id), None)
            if suite is None:
                raise KeyError(f"no check suite {suite_id} in {full_name!r}")
            if any(r.suite_id == suite_id for r in repo.check_runs):
                raise ValueError(f"check suite {suite_id} has check runs; complete those")
            suite.status, suite.conclusion, suite.updated_at = "completed", conclusion, now_iso()
            return suite
