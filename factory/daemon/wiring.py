"""Building the daemon's parts from Settings: model, sandboxes, GitHub side, workspaces.

Everything external is reached through URLs in Settings (``GITHUB_API_URL``,
``ANTHROPIC_BASE_URL``), so the demo and the tests point the same code at the fakes.
"""

from __future__ import annotations

import fcntl
import secrets
import threading
from pathlib import Path
from typing import IO, Any

import structlog
from github import Github, GithubException
from github.Repository import Repository

from factory.agent.model import AnthropicModel
from factory.config.harness import Policy
from factory.daemon.runenv import GitHubSide
from factory.errors import DaemonAlreadyRunning, ForgeError, SandboxUnavailable
from factory.events import Subject, utcnow
from factory.forge.claims import Claims
from factory.forge.client import Pacing, app_bot_login, git_auth_header, make_github
from factory.forge.labels import ensure_labels
from factory.forge.pr_progress import stalled
from factory.forge.trust import PermissionTrust
from factory.interfaces import Model, Sandbox
from factory.sandbox import BwrapSandbox, make_sandbox
from factory.settings import Settings
from factory.workspace import Mirror, Workspaces
from factory.workspace.overlay import make_workspaces

log = structlog.get_logger(__name__)


def instance_id(data_dir: Path) -> str:
    """Return this data directory's stable daemon id (made once, kept in ``instance-id``)."""
    path = data_dir / "instance-id"
    if path.is_file():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = f"factoryd-{secrets.token_hex(4)}"
    path.write_text(value + "\n")
    return value


def make_model(settings: Settings) -> Model:
    """Return the Anthropic model adapter. Raises ValueError without ANTHROPIC_API_KEY."""
    if settings.anthropic_api_key is None:
        raise ValueError("ANTHROPIC_API_KEY is not set")
    return AnthropicModel(settings.anthropic_api_key, settings.anthropic_base_url)


class Sandboxes:
    """``backend name -> Sandbox``, one shared instance per backend (so kill_all reaches all)."""

    def __init__(self) -> None:
        self.made: dict[str, Sandbox] = {}
        self._lock = threading.Lock()

    def __call__(self, backend: str) -> Sandbox:
        """Return the sandbox of ``backend``. Raises ValueError for an unknown backend."""
        with self._lock:
            if backend not in self.made:
                self.made[backend] = make_sandbox(backend)
            return self.made[backend]

    def kill_all(self) -> None:
        """Kill every command any of the sandboxes still runs."""
        with self._lock:
            sandboxes = list(self.made.values())
        for sandbox in sandboxes:
            sandbox.kill_all()


def probe_bwrap() -> None:
    """Check that bubblewrap can start. Raises SandboxUnavailable saying how to fix it."""
    sandbox = make_sandbox("bwrap")
    if isinstance(sandbox, BwrapSandbox):
        sandbox.probe()
    else:  # pragma: no cover - the registry maps bwrap to BwrapSandbox
        raise SandboxUnavailable("the bwrap backend is not registered")


def own_login(gh: Github, settings: Settings) -> str:
    """Return the login the factory writes as: the token's user, or ``<app slug>[bot]``.

    Knowing it is what keeps the factory from triggering itself. An App installation has no
    user (GitHub answers ``GET /user`` 403 to its token), so an App's login is asked of
    ``GET /app`` with the App's JWT. Raises ForgeError when it cannot be found (set
    FACTORY_BOT_LOGIN) or the App's key cannot be read; GithubException when GitHub refuses
    the App's JWT.
    """
    if settings.github_app_id is not None:
        key = settings.github_app_private_key_path
        if key is None:
            raise ForgeError(f"GitHub App {settings.github_app_id} needs a private key")
        return app_bot_login(settings.github_app_id, key, settings.github_api_url)
    try:
        return str(gh.get_user().login)
    except GithubException as exc:
        raise ForgeError(
            f"cannot tell the factory's own GitHub login (GET /user answered {exc.status}):"
            " set FACTORY_BOT_LOGIN"
        ) from exc


def github_side(settings: Settings, policy: Policy, data_dir: Path) -> GitHubSide:
    """Return the GitHub half of the daemon for GITHUB_REPOSITORY.

    Raises ForgeError for missing credentials; GithubException when GitHub refuses.
    """
    pacing = Pacing(seconds_between_writes=settings.github_write_pacing_s)
    gh = make_github(settings, pacing=pacing)
    repo = gh.get_repo(settings.github_repository or "")
    bot_login = settings.github_bot_login or own_login(gh, settings)

    def header() -> str | None:
        return git_auth_header(gh) if repo.clone_url.startswith("http") else None

    mirror = Mirror(data_dir, repo.full_name, repo.clone_url, auth_header=header)
    return GitHubSide(
        github=gh,
        repo=repo,
        claims=Claims(repo),
        mirror=mirror,
        trust=policy.trust,
        resolve=PermissionTrust(repo, policy.trust),
        bot_login=bot_login,
        auth_header=header,
        lease_s=settings.claim_lease_s,
    )


def workspaces_for(side: GitHubSide, settings: Settings) -> Workspaces:
    """Return the per-run workspaces made from ``side``'s mirror: overlays when root."""
    return make_workspaces(
        settings.data_dir, side.mirror, keep_failed_for=settings.keep_failed_workspaces_s
    )


def select_subjects(gh: GitHubSide, select: Any) -> list[Subject]:
    """Return the open issues or pull requests a schedule's ``select`` names, up to its limit.

    ``select`` is an automation's schedule selection (state, labels, exclude_labels, kind,
    limit, stale_for: no progress for that long, ``factory.forge.pr_progress``).
    Raises what PyGithub raises.
    """
    subjects = []
    excluded = set(select.exclude_labels)
    # Label names, not Label objects: a label nobody created yet selects nothing.
    for issue in gh.repo.get_issues(state=select.state, labels=list(select.labels)):
        is_pull = issue.pull_request is not None
        if is_pull != (select.kind == "pull_request"):
            continue
        if excluded & {label.name for label in issue.labels}:
            continue
        if select.stale_for and not stalled(issue, select.stale_for, utcnow()):
            continue
        kind = "pull_request" if is_pull else "issue"
        subjects.append(Subject(kind=kind, number=issue.number, title=issue.title))
        if len(subjects) >= select.limit:
            break
    return subjects


def take_lock(data_dir: Path) -> IO[str]:
    """Return the held lock file of ``data_dir``; raises DaemonAlreadyRunning when another
    factoryd holds it."""
    handle = (data_dir / "daemon.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DaemonAlreadyRunning(
            f"another factoryd is running on data directory {data_dir}"
        ) from None
    return handle


def ensure_factory_labels(repo: Repository, policy: Policy) -> None:
    """Create the factory's labels the repository lacks (missing rights: logged only)."""
    try:
        created = ensure_labels(repo, policy)
    except GithubException as exc:
        log.warning("labels_not_ensured", status=exc.status)
        return
    if created:
        log.info("labels_created", labels=created)
