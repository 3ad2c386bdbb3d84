"""Schedule triggers: APScheduler 3.11 jobs rebuilt from the YAML, each tick stored as events.

Jobs live in memory only (no pickled job store): ``Schedules.sync(config)`` makes the set of
jobs match the automations' ``schedule`` triggers, at start and on every reload. A tick with
``select:`` stores one event per selected subject; without one, a single subject-less event
(and so does a ``select:`` tick that selects nothing when the trigger says ``when_empty: run``,
marked ``empty_select`` in its payload).
The dedup key names the automation, the trigger and the scheduled fire time, so a tick that
is delivered twice stores one event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from factory.config.automation import Automation
from factory.config.loader import FactoryConfig
from factory.config.triggers import ScheduleTrigger, Select
from factory.events import Event, Subject, utcnow
from factory.store import RunStore

log = structlog.get_logger(__name__)

MISFIRE_GRACE_S = 3600
"""A tick that is late by up to this much (daemon busy, host asleep) still runs, once."""

SubjectFinder = Callable[[Select], Sequence[Subject]]
"""Returns the subjects a ``select:`` picks (open issues with labels, …), at most ``limit``."""


def job_id(automation: Automation, index: int) -> str:
    """Return the scheduler job id of an automation's ``index``-th trigger."""
    return f"{automation.name}#{index}:{automation.content_hash[:12]}"


def interval_slot(now: datetime, every_s: float) -> datetime:
    """Return the start of the ``every_s`` slot (counted from the epoch) that ``now`` is in.

    Several control processes fire one interval schedule at different offsets (each started
    at its own time, jitter); naming the tick by its slot gives them one dedup key per tick.
    """
    step = max(1, int(every_s))
    return datetime.fromtimestamp(int(now.timestamp()) // step * step, tz=now.tzinfo)


def aps_trigger(schedule: ScheduleTrigger) -> IntervalTrigger | CronTrigger:
    """Return the APScheduler trigger for a schedule (interval with jitter, or cron in a tz)."""
    jitter = schedule.jitter or None
    if schedule.every is not None:
        return IntervalTrigger(seconds=schedule.every, jitter=jitter, timezone="UTC")
    assert schedule.cron is not None  # the model guarantees exactly one of every/cron
    cron = CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone)
    cron.jitter = jitter
    return cron


def tick_events(
    automation: Automation,
    index: int,
    fire_time: datetime,
    find: SubjectFinder | None,
) -> list[Event]:
    """Return the events one tick of ``automation``'s ``index``-th trigger produces."""
    schedule = automation.on[index].schedule
    if schedule is None:
        raise ValueError(f"trigger {index} of automation {automation.name!r} is not a schedule")
    stamp = fire_time.astimezone(utcnow().tzinfo).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = f"schedule:{automation.name}:{index}:{stamp}"
    payload: dict[str, Any] = {"automation": automation.name, "trigger": index, "at": stamp}
    if schedule.select is None:
        return [
            Event(
                source="schedule",
                kind="schedule.tick",
                dedup_key=base,
                payload=payload,
                trust="maintainers",
            )
        ]
    if find is None:
        log.warning("schedule_select_unavailable", automation=automation.name)
        return []
    # The runner confirms that a trusted person applied these labels (approval), whatever
    # the automation looks like by the time the run starts.
    payload["confirm_labels"] = list(schedule.select.labels)
    subjects = find(schedule.select)[: schedule.select.limit]
    if not subjects and schedule.when_empty == "run":
        payload.update(confirm_labels=[], empty_select=True)
        return [
            Event(
                source="schedule",
                kind="schedule.tick",
                dedup_key=f"{base}:empty",
                payload=payload,
                trust="maintainers",
            )
        ]
    return [
        Event(
            source="schedule",
            kind="schedule.tick",
            dedup_key=f"{base}:{subject.kind}:{subject.number}",
            subject=subject,
            payload=payload,
            # The schedule is configured by the repository's maintainers; whether the subject
            # itself was approved is checked by the runner (label history), not assumed here.
            trust="maintainers",
        )
        for subject in subjects
    ]


class Schedules:
    """The running scheduler and its jobs, kept in step with the loaded automations."""

    def __init__(
        self,
        store: RunStore,
        *,
        find: SubjectFinder | None = None,
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.find = find
        self.on_stored = on_stored
        self.scheduler = BackgroundScheduler(
            timezone="UTC",
            job_defaults={
                "coalesce": True,
                "misfire_grace_time": MISFIRE_GRACE_S,
                "max_instances": 1,
            },
        )

    def start(self) -> None:
        """Start the scheduler thread."""
        self.scheduler.start()

    def shutdown(self) -> None:
        """Stop the scheduler without waiting for running ticks."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def sync(self, config: FactoryConfig) -> tuple[list[str], list[str]]:
        """Make the jobs match ``config``; return (added job ids, removed job ids)."""
        wanted: dict[str, tuple[Automation, int]] = {}
        for automation in config.automations.values():
            if not automation.enabled:
                continue
            for index, trigger in enumerate(automation.on):
                if trigger.schedule is not None:
                    wanted[job_id(automation, index)] = (automation, index)
        existing = {job.id for job in self.scheduler.get_jobs()}
        removed = sorted(existing - wanted.keys())
        for jid in removed:
            self.scheduler.remove_job(jid)
        added = sorted(wanted.keys() - existing)
        for jid in added:
            automation, index = wanted[jid]
            schedule = automation.on[index].schedule
            assert schedule is not None
            self.scheduler.add_job(
                self._tick,
                aps_trigger(schedule),
                args=(automation, index),
                id=jid,
                name=automation.name,
            )
        if added or removed:
            log.info("schedules_synced", added=added, removed=removed)
        return added, removed

    def next_fire_times(self) -> dict[str, datetime | None]:
        """Return each job's next fire time, keyed by job id."""
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}

    def _tick(self, automation: Automation, index: int) -> None:
        # APScheduler calls this in its worker thread; the fire time is "now", rounded so
        # that a duplicate delivery of the same tick shares the dedup key.
        fire_time = utcnow().replace(microsecond=0)
        schedule = automation.on[index].schedule
        if schedule is not None and schedule.every is not None and schedule.every >= 60:
            fire_time = fire_time - timedelta(seconds=fire_time.second)
        if schedule is not None and schedule.every is not None:
            fire_time = interval_slot(fire_time, schedule.every)
        stored = 0
        for event in tick_events(automation, index, fire_time, self.find):
            _, created = self.store.add_event(event)
            stored += int(created)
        log.info("schedule_tick", automation=automation.name, trigger=index, events=stored)
        if stored:
            self.on_stored()
