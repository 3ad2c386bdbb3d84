"""Dispatch: stored events → the automations they trigger → queued (or skipped) runs.

Invariants:
- one run per (event, automation, attempt): the store's unique key makes dispatching an
  event twice harmless, so recovery can simply dispatch whatever is not marked dispatched;
- a refusal (``trust_gate``'s trust refusal, the daily budget) is a ``skipped`` run carrying
  the reason, so a person can see why nothing happened;
- events caused by the factory's own writes start nothing unless the trigger says
  ``include_factory: true`` (no self-trigger loops; ``trust_gate`` decides which trigger fires).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from factory.config.automation import Automation
from factory.config.loader import FactoryConfig
from factory.crashpoints import crashpoint
from factory.daemon.trust_gate import subject_fits, trigger_matches, trust_refusal
from factory.errors import DuplicateRun
from factory.events import Event, Subject, utcnow
from factory.sources.manual import manual_event
from factory.store import EventRecord, RunRecord, RunStore

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Decision:
    """What dispatching one event did for one automation."""

    automation: str
    run_id: str | None
    status: str
    reason: str | None = None


Absorb = Callable[[EventRecord], bool]
Gate = Callable[[Automation, Event, int | None], str | None]


def absorb_all(*absorbers: Absorb | None) -> Absorb | None:
    """Return one absorb that asks every given absorber (each records what it must, so none
    is skipped) and answers True when any did; None when none is given."""
    present = [a for a in absorbers if a is not None]
    if not present:
        return None

    def absorb(record: EventRecord) -> bool:
        answers = [a(record) for a in present]
        return any(answers)

    return absorb


class Dispatcher:
    """Turns stored events into runs; picks which queued run may start next."""

    absorb: Absorb | None = None
    """Asked first for each event: True means it was handled without a run (a Slack thread
    reply ``factory.daemon.followup`` turned into an issue comment, a Sentry regression
    ``factory.daemon.sentry_loop`` reopened an issue for); several are one ``absorb_all``."""
    gate: Gate | None = None
    """Asked last for each run about to be created: a reason makes it ``skipped``
    (``factory.daemon.dependency_gate``: the issue's dependencies are open)."""

    def __init__(
        self,
        store: RunStore,
        config: Callable[[], FactoryConfig],
        *,
        global_concurrency: int = 2,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if global_concurrency < 1:
            raise ValueError(f"global_concurrency must be >= 1, got {global_concurrency}")
        self.store = store
        self.config = config
        self.global_concurrency = global_concurrency
        self.clock = clock

    def dispatch_pending(self, limit: int = 100) -> list[Decision]:
        """Dispatch every stored event not yet dispatched; return what was decided."""
        decisions: list[Decision] = []
        for record in self.store.undispatched_events(limit=limit):
            decisions.extend(self.dispatch(record))
            crashpoint("dispatch_before_mark")
            self.store.mark_event_dispatched(record.id)
            crashpoint("dispatch_after_mark")
        return decisions

    def dispatch(self, record: EventRecord) -> list[Decision]:
        """Create a queued or skipped run for each automation ``record`` triggers."""
        if self.absorb is not None and self.absorb(record):
            return []
        event = record.event
        decisions = []
        automations = self.config().automations
        for automation in automations.values():
            # A shadow runs on its live automation's events (live's triggers and subject).
            live = automations.get(automation.shadow_of or automation.name)
            if live is None or not automation.enabled or not subject_fits(live, event):
                continue
            if not any(trigger_matches(t, live, event) for t in live.on):
                continue
            decision = self.create_run(automation, record)
            if decision is not None:
                decisions.append(decision)
        return decisions

    def create_run(self, automation: Automation, record: EventRecord) -> Decision | None:
        """Create ``automation``'s run for ``record``: queued, or skipped with the refusal.

        Returns None when that run already exists (the event was dispatched before).
        """
        event = record.event
        reason = self._refusal(automation, event)
        if reason is None and self.gate is not None:
            reason = self.gate(automation, event, record.id)
        status = "skipped" if reason else "queued"
        try:
            run_id = self.store.create_run(
                automation.name,
                event_id=record.id,
                subject_key=event.subject_key,
                content_hash=automation.content_hash,
                prompt_snapshot=automation.source_text,
                status=status,
                stop_reason=reason,
            )
        except DuplicateRun:
            return None
        log.info(
            "run_" + status,
            run_id=run_id,
            automation=automation.name,
            event_id=record.id,
            kind=event.kind,
            subject=event.subject_key,
            reason=reason,
        )
        return Decision(automation.name, run_id, status, reason)

    def _refusal(self, automation: Automation, event: Event) -> str | None:
        return trust_refusal(automation, event) or self.budget_refusal(automation)

    def budget_refusal(self, automation: Automation) -> str | None:
        """Return why ``automation`` may not start another run today (USD spent), or None."""
        spent = self.store.spent_today(automation.name, now=self.clock())
        if spent >= automation.limits.daily_usd:
            return (
                f"budget: {automation.name} spent ${spent:.2f} today, "
                f"daily limit ${automation.limits.daily_usd:.2f}"
            )
        return None

    def runnable(self, running: Iterable[RunRecord]) -> tuple[RunRecord, Automation] | None:
        """Return the oldest due queued run the limits allow, with its automation, or None.

        Limits: global concurrency, the automation's own ``concurrency``, and one run at a
        time per subject (the subject is what runs claim). Runs of a disabled automation
        wait; runs of an automation that no longer exists are cancelled.
        """
        running = list(running)
        if len(running) >= self.global_concurrency:
            return None
        automations = self.config().automations
        per_automation: dict[str, int] = {}
        # Fully staged runs (staged, shadows) take no claim: they neither make a subject busy
        # nor wait for it, so a shadow never holds up its live twin (nor the twin it).
        busy_subjects = {
            run.subject_key
            for run in running
            if run.subject_key and not _fully_staged(automations.get(run.automation))
        }
        for run in running:
            per_automation[run.automation] = per_automation.get(run.automation, 0) + 1
        for run in self.store.queued_runs(now=self.clock(), limit=200):
            spec = automations.get(run.automation)
            if spec is None:
                reason = f"automation {run.automation!r} no longer exists"
                self.store.finish_run(run.id, "cancelled", stop_reason=reason)
                continue
            if not spec.enabled or per_automation.get(run.automation, 0) >= spec.concurrency:
                continue
            if run.subject_key in busy_subjects and not spec.fully_staged:
                continue
            return run, spec
        return None

    def retry_delay(self, automation: Automation, attempt: int) -> timedelta | None:
        """Return the backoff before attempt ``attempt + 1``, or None when retries are spent."""
        if attempt > automation.retries.max:
            return None
        return timedelta(seconds=automation.retries.backoff * 2 ** (attempt - 1))


def _fully_staged(automation: Automation | None) -> bool:
    return automation is not None and automation.fully_staged


def enqueue_manual(
    store: RunStore,
    dispatcher: Dispatcher,
    automation: str,
    *,
    subject: Subject | None = None,
    task: str | None = None,
    wake: threading.Event | None = None,
) -> Decision:
    """Store a manual event for ``automation`` and create its run at once; return the decision.

    A person at the console or in the viewer is a maintainer: the automation runs whether or
    not it lists a ``manual`` trigger (its daily budget still applies). Raises ValueError for
    an unknown or disabled automation, or a subject of the wrong kind, naming what to pass.
    """
    spec, event = manual_event(
        dispatcher.config().automations, automation, subject=subject, task=task
    )
    event_id, _ = store.add_event(event)
    decision = dispatcher.create_run(spec, store.get_event(event_id))
    if decision is None:
        # The daemon's loop dispatched the fresh event first (the automation has a manual
        # trigger): its run is the one we wanted.
        run = next(r for r in store.runs_of_event(event_id) if r.automation == automation)
        decision = Decision(automation, run.id, run.status, run.stop_reason)
    store.mark_event_dispatched(event_id)
    if wake is not None:
        wake.set()
    return decision
