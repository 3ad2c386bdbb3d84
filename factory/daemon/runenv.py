"""What a run needs from the daemon (RunEnv, GitHubSide) and the small rules around runs.

Kept apart from ``runner.py`` so that recovery, the daemon and the runner share one
definition of a run's idempotency scope, its claim holder and which failures are retryable.
"""

from __future__ import annotations

import errno
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import structlog
from github import Github, GithubException, RateLimitExceededException
from github.Repository import Repository

from factory.config.automation import Automation
from factory.config.harness import TrustPolicy
from factory.config.loader import FactoryConfig
from factory.daemon.slack_side import SlackRuns
from factory.errors import (
    ClaimLost,
    GitError,
    GitHubRateLimited,
    ModelError,
    SandboxUnavailable,
    WorkspaceError,
)
from factory.events import Event, utcnow
from factory.forge.claims import Claims, make_holder
from factory.forge.client import SECONDARY_WAIT_S, rate_limit_wait
from factory.forge.trust import TrustResolver
from factory.interfaces import Model, Sandbox
from factory.logs import redactor
from factory.sentry.client import SentryClient
from factory.store import RunRecord, RunStore
from factory.workspace import Mirror, Workspaces

log = structlog.get_logger(__name__)


@dataclass
class GitHubSide:
    """The GitHub half of the daemon that runs need: client, repository, claims, trust."""

    github: Github
    repo: Repository
    claims: Claims
    mirror: Mirror
    trust: TrustPolicy
    resolve: TrustResolver
    bot_login: str | None = None
    auth_header: Callable[[], str | None] = lambda: None
    lease_s: float = 120.0


@dataclass
class RunEnv:
    """Everything a run needs from the daemon."""

    store: RunStore
    config: Callable[[], FactoryConfig]
    model: Model
    sandbox_for: Callable[[str], Sandbox]
    data_dir: Path
    holder: str
    """This daemon instance's id (claims, run rows)."""
    github: GitHubSide | None = None
    workspaces: Workspaces | None = None
    slack: SlackRuns | None = None
    """Slack's client and the bot's ids, when Slack is configured."""
    sentry: SentryClient | None = None
    """Sentry's REST client, when an auth token and an organization are set."""
    secrets: tuple[str, ...] = ()
    config_root: Path | None = None
    """The factory config repository (``Settings.config_root``): what the auditor reads and
    proposes changes to (None: no ``factory_runs`` config files, proposals refused)."""
    retry_delay: Callable[[Automation, int], timedelta | None] = field(
        default=lambda automation, attempt: None
    )


BUSY_DELAY = timedelta(seconds=30)
"""How long a run whose subject another holder claims waits before it tries again."""
MAX_BUSY_ATTEMPTS = 20
"""Attempts after which a run that keeps finding its subject busy is left skipped."""
MAX_PAUSED_ATTEMPTS = 20
"""Attempts after which a run that keeps meeting GitHub rate limits is not re-queued again."""


@dataclass
class RunState:
    """What one run's pieces tell each other while it executes."""

    failed: bool = True
    busy: bool = False
    resume_at: datetime | None = None
    """Set when a GitHub rate limit paused the run: when its next attempt may start."""
    claim_lost: threading.Event = field(default_factory=threading.Event)


def safe(fn: Callable[[], object], what: str, run_id: str) -> Callable[[], None]:
    """Wrap a cleanup step so that its failure is logged, not raised (cleanup must finish)."""

    def call() -> None:
        try:
            fn()
        except Exception as exc:  # cleanup of a finished run: log it, keep cleaning
            log.warning("cleanup_failed", step=what, run_id=run_id, error=redactor.scrub(str(exc)))

    return call


def holder_of(instance: str, run: RunRecord) -> str:
    """Return the claim holder of ``run``: this daemon and the run's idempotency scope.

    Every attempt of one (event, automation) holds the claim under the same name, so a
    re-queued attempt re-takes a claim its interrupted predecessor left behind.
    """
    return make_holder(instance, key_scope(run))


def claimed_on_github(subject_key: str | None) -> bool:
    """Return True for the subjects a run claims on GitHub: issues and pull requests (a
    commit has no claim ref; a Slack thread is held only by the local dispatch)."""
    return (subject_key or "").startswith(("issue:", "pull_request:"))


def key_scope(run: RunRecord) -> str:
    """Return the idempotency scope shared by every attempt of a run's (event, automation)."""
    if run.event_id is None:
        return run.id
    return f"e{run.event_id}-{run.automation}"


def is_retryable(exc: BaseException) -> bool:
    """Return True for failures another attempt may not meet (infrastructure, not verdicts)."""
    if isinstance(exc, ModelError):
        return exc.retryable
    if isinstance(exc, SandboxUnavailable):
        return False  # a host problem a retry would meet again; it needs a person
    if isinstance(exc, GitHubRateLimited):
        return exc.retryable
    if isinstance(exc, GithubException):
        # A 403 is retried only as a rate limit; otherwise it is a permission verdict.
        return exc.status >= 500 or rate_limit_resume(exc) is not None
    return isinstance(exc, ClaimLost | WorkspaceError | GitError | OSError | TimeoutError)


def rate_limit_resume(exc: BaseException) -> datetime | None:
    """Return when a run stopped by a GitHub rate limit may try again; None for other errors.

    ``GitHubRateLimited`` carries the time itself; a PyGithub error whose retries ran out
    is read like GitHub's answer (``retry-after``, else ``x-ratelimit-reset``).
    """
    if isinstance(exc, GitHubRateLimited):
        return exc.resume_at
    if not isinstance(exc, GithubException):
        return None
    wait = rate_limit_wait(exc.status, exc.headers or {})
    if wait is None and isinstance(exc, RateLimitExceededException):
        wait = SECONDARY_WAIT_S  # told apart by its message only: GitHub's advice, a minute
    return None if wait is None else utcnow() + timedelta(seconds=wait)


def labels_to_confirm(event: Event | None) -> list[str]:
    """The labels whose application by a trusted actor approved this run.

    A label event names its label; a schedule sweep recorded its ``select`` labels in the
    event when it fired (not looked up again: the automation may have been edited since).
    """
    if event is None:
        return []
    label = event.payload.get("label")
    if isinstance(label, dict) and isinstance(label.get("name"), str):
        return [label["name"]]
    confirm = event.payload.get("confirm_labels")
    if isinstance(confirm, list):
        return [str(name) for name in confirm]
    return []


NO_SPACE = "no space left on device"
"""The stop reason of a run that failed because a disk (workspace or store) was full."""
_NO_SPACE_TEXTS = ("no space left on device", "database or disk is full", "disk quota exceeded")


def no_space(exc: BaseException) -> bool:
    """Return True if ``exc`` or an exception it came from says a disk is full.

    Looks at OS errors (ENOSPC, EDQUOT), SQLite's SQLITE_FULL and, for tools that only report
    text (git's stderr inside a GitError), the message.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if getattr(current, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        if any(text in str(current).lower() for text in _NO_SPACE_TEXTS):
            return True
        current = current.__cause__ or current.__context__
    return False
