"""A run's phases as values: what one phase hands the next (``Claimed``, ``Outcome``).

``Runner`` executes a run as phases: ``claim`` (the claim on GitHub, its heartbeat, the
subject's snapshot and the approval checks), ``prepare`` (the workspace, the sandbox's run
cgroup, the egress proxy), ``work`` (the session and the outputs it performs, the patch) and
``finish`` (the final status, the re-queue decisions). In one
process they are composed by ``Runner.execute``; on DBOS (factory/daemon/distributed.py) each
is a workflow step. ``Claimed`` is host-local (a live claim, its heartbeat thread, the cleanup
stack) and never leaves the process; ``Outcome`` is what a session decided, small and
serializable, so a recovered workflow can replay it into ``finish`` without a second session.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from factory.config.automation import Automation
from factory.config.templating import SubjectSnapshot
from factory.crashpoints import crashpoint
from factory.daemon.runenv import (
    NO_SPACE,
    RunEnv,
    RunState,
    claimed_on_github,
    holder_of,
    is_retryable,
    labels_to_confirm,
    no_space,
    rate_limit_resume,
    safe,
)
from factory.daemon.vouch import vouching_resolver
from factory.errors import ClaimLost, SubjectBusy
from factory.events import Event
from factory.forge.claims import Heartbeat
from factory.forge.subjects import approval_problem, approval_text_problem, snapshot
from factory.interfaces import Sandbox
from factory.logs import redactor
from factory.store import RunRecord
from factory.workspace import Workspace

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What a run's session (or its claim, when it ended the run early) decided."""

    status: str
    stop_reason: str | None = None
    error: str | None = None
    retryable: bool = False
    busy: bool = False
    """The subject was claimed by another holder: re-queued after ``BUSY_DELAY``."""
    resume_at: datetime | None = None
    """A GitHub rate limit paused the run: its next attempt may start then."""

    def to_json(self) -> dict[str, Any]:
        """Return the outcome as JSON-safe data (a DBOS step's checkpointed output)."""
        return {
            "status": self.status,
            "stop_reason": self.stop_reason,
            "error": self.error,
            "retryable": self.retryable,
            "busy": self.busy,
            "resume_at": self.resume_at.isoformat() if self.resume_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        """Read an outcome written by ``to_json``."""
        resume = data.get("resume_at")
        return cls(
            status=str(data["status"]),
            stop_reason=data.get("stop_reason"),
            error=data.get("error"),
            retryable=bool(data.get("retryable")),
            busy=bool(data.get("busy")),
            resume_at=datetime.fromisoformat(resume) if resume else None,
        )


@dataclass
class Claimed:
    """A run between its claim and its session, in the process that claimed it."""

    run: RunRecord
    automation: Automation
    cancel: threading.Event
    cleanup: ExitStack = field(default_factory=ExitStack)
    state: RunState = field(default_factory=RunState)
    event: Event | None = None
    snap: SubjectSnapshot | None = None
    outcome: Outcome | None = None
    """Set when the claim or workspace phase already decided the run (busy, skipped, failed)."""
    prepared: bool = False
    """The workspace phase ran: ``workspace`` and ``sandbox`` are the run's (None: none)."""
    workspace: Workspace | None = None
    sandbox: Sandbox | None = None

    def close(self, outcome: Outcome) -> None:
        """Run the cleanup (claim release, heartbeat stop, workspace release) for ``outcome``."""
        self.state.failed = outcome.status != "succeeded"
        self.cleanup.close()  # every callback is wrapped by safe(): cleanup never raises


def failure(exc: Exception, run: RunRecord, cancel: threading.Event) -> Outcome:
    """Return the outcome of a run phase that raised ``exc`` (the run's one broad except)."""
    if isinstance(exc, SubjectBusy):
        return Outcome("skipped", str(exc), busy=True)
    status = "interrupted" if cancel.is_set() else "failed"
    error = redactor.scrub(f"{type(exc).__name__}: {exc}")[:4000]
    retryable = status == "failed" and is_retryable(exc)
    stop_reason, resume_at = None, None
    resume = rate_limit_resume(exc) if status == "failed" else None
    if resume is not None:  # GitHub said when: pause the run until then, not fail it
        status, retryable, resume_at = "interrupted", True, resume
        stop_reason = f"paused by a GitHub rate limit until {resume:%Y-%m-%d %H:%M:%S} UTC"
    elif no_space(exc):
        stop_reason = NO_SPACE
    log.warning(
        "run_error",
        run_id=run.id,
        automation=run.automation,
        subject=run.subject_key,
        error=error,
        retryable=retryable,
        stop_reason=stop_reason,
    )
    return Outcome(status, stop_reason, error, retryable, resume_at=resume_at)


def claim_subject(env: RunEnv, claimed: Claimed) -> str | None:
    """Claim the run's subject on GitHub, snapshot it and check its approval; fill ``claimed``.

    Returns why the run is skipped (an approval problem), or None. Raises SubjectBusy when
    another holder has the claim; the claim's release and heartbeat go on ``claimed.cleanup``.
    """
    run, automation, gh = claimed.run, claimed.automation, env.github
    claimed.event = env.store.get_event(run.event_id).event if run.event_id is not None else None
    crashpoint("run_before_claim")
    if gh is None or not run.subject_key or not claimed_on_github(run.subject_key):
        return None
    # A fully staged run (staged, or a shadow) writes nothing, so it takes no claim:
    # it neither writes the claim ref nor blocks its live twin's claim on the subject.
    if not automation.fully_staged:
        claim = gh.claims.claim(run.subject_key, holder_of(env.holder, run), gh.lease_s)
        if claim is None:
            raise SubjectBusy(f"subject {run.subject_key} is claimed by another holder")
        claimed.cleanup.callback(safe(claim.release, "claim_release", run.id))
        claimed.cleanup.callback(crashpoint, "run_before_release")  # just before the release

        def lost(exc: ClaimLost) -> None:
            claimed.state.claim_lost.set()
            claimed.cancel.set()

        beat = Heartbeat(claim, on_lost=lost).start()
        claimed.cleanup.callback(safe(beat.stop, "heartbeat_stop", run.id))
        crashpoint("run_after_claim")
    snap = claimed.snap = snapshot(gh.repo, run.subject_key, gh.trust)
    if automation.workspace == "none":
        return None
    labels = labels_to_confirm(claimed.event)
    resolve = vouching_resolver(env.store, run.subject_key, labels, gh.bot_login, gh.resolve)
    problem = approval_problem(gh.repo, snap, labels, automation.trust, resolve)
    if problem is None and labels:
        problem = approval_text_problem(
            env.store, gh.repo, run.subject_key, snap, labels, automation.trust
        )
        if problem:
            log.warning("approval_text_changed", run_id=run.id, reason=problem)
    return problem
