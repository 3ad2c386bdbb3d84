"""Distributed execution on DBOS: ``factoryd start --role control`` and ``factoryd worker``.

The control runs sources, scheduler, dispatch, webhooks and the viewer like the all-in-one
daemon, but its executor (``DbosExecutor``) does not run sessions: a run it starts (marked
``running`` once the dispatcher's limits allow: global, per automation, one per subject) is
enqueued as the durable DBOS workflow ``factory_run`` with the run id as workflow id (enqueuing
twice is a no-op) on the queue ``factory-runs`` (``global_concurrency`` = FACTORY_CONCURRENCY,
``worker_concurrency`` = FACTORY_WORKER_CONCURRENCY). Workers dequeue and execute it.

The workflow has two steps. ``begin`` checkpoints which worker began the run. ``execute`` runs
the run's phases (claim, workspace, session, outputs, finish) through ``Runner.execute``; if a
worker dies inside it, DBOS re-executes the step elsewhere: the new worker first releases the
dead worker's GitHub claim, and the outputs, idempotent by their markers, write nothing twice.
A dead worker is found by its heartbeat row (factory/store/workers.py) lapsing; the live worker
that takes the row calls DBOS's recovery for that executor id.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any, cast

import structlog
from dbos import DBOS, DBOSClient, DBOSConfig

from factory import __version__
from factory.config.automation import Automation
from factory.daemon.process import Daemon
from factory.daemon.recovery import reconcile_outputs, release_claim
from factory.errors import StartRefused
from factory.store import OutputRecord, RunRecord, RunStore
from factory.store.workers import DEAD, beat, take_dead

log = structlog.get_logger(__name__)

QUEUE = "factory-runs"
WORKFLOW = "factory_run"
APP = "factoryd"
REENQUEUE_S = 5.0
"""How often the control re-enqueues ``running`` runs (a no-op for those enqueued already)."""


def require_postgres(store_location: object) -> str:
    """Return the PostgreSQL URL distributed mode needs; raise StartRefused without one."""
    url = str(store_location)
    if not url.startswith("postgresql"):
        raise StartRefused(["distributed roles need FACTORY_DATABASE_URL on PostgreSQL"])
    return url


@dataclass
class DbosExecutor:
    """The control's executor: each started run becomes a queued ``factory_run`` workflow."""

    client: DBOSClient

    @classmethod
    def open(cls, url: str) -> DbosExecutor:
        """Connect a DBOS client (no workflows run here) to the system database at ``url``."""
        return cls(DBOSClient(system_database_url=url, application_name=APP))

    def launch(self, run: RunRecord, automation: Automation) -> None:
        """Enqueue ``run`` (workflow id = run id: a second enqueue attaches to the first)."""
        self.client.enqueue(
            {
                "queue_name": QUEUE,
                "workflow_name": WORKFLOW,
                "workflow_id": run.id,
                "app_version": __version__,
            },
            run.id,
        )
        log.info("run_enqueued", run_id=run.id, automation=automation.name)


class ControlDaemon(Daemon):
    """Sources, scheduler, dispatch, webhooks and the viewer; runs go to the DBOS queue."""

    def start(self) -> None:
        """Start as ``Daemon.start`` with the DBOS executor; refuse without PostgreSQL."""
        self.executor = DbosExecutor.open(require_postgres(self.settings.store_location))
        super().start()

    def recover(self) -> None:
        """Re-enqueue every ``running`` run: one the control started but had not enqueued when
        it died (or whose enqueue failed: PostgreSQL away, DBOS's tables not made yet by a
        worker) gets its workflow; for the others the enqueue is a no-op (same workflow id)."""
        assert self.executor is not None
        self._next_reenqueue = time.monotonic() + REENQUEUE_S
        try:
            for run in self.store.list_runs(status="running", limit=10_000):
                automation = self.watcher.config.automations.get(run.automation)
                if automation is not None:
                    self.executor.launch(run, automation)
        except Exception as exc:  # tried again every REENQUEUE_S; the loop must go on
            log.warning("reenqueue_failed", error=str(exc)[:500])

    def tick(self) -> None:
        """Re-enqueue ``running`` runs every ``REENQUEUE_S``, then dispatch as ``Daemon``."""
        if time.monotonic() >= getattr(self, "_next_reenqueue", 0.0):
            self.recover()
        super().tick()


class _OneRunIntents:
    """The store, with ``pending_output_intents`` narrowed to one run's (for reconciling)."""

    def __init__(self, store: RunStore, run_id: str) -> None:
        self._store = store
        self._run_id = run_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def pending_output_intents(self) -> list[OutputRecord]:
        """Only the intents of this run."""
        return [r for r in self._store.pending_output_intents() if r.run_id == self._run_id]


_WORKER: WorkerDaemon | None = None


@DBOS.step(name="begin")
def _begin(run_id: str) -> str:
    """Checkpoint which worker began ``run_id`` (a recovered workflow reads the dead one's id)."""
    assert _WORKER is not None
    return _WORKER.instance


@DBOS.step(name="execute")
def _execute(run_id: str, began_on: str) -> str:
    """Run the run's phases on this worker; return its final status."""
    assert _WORKER is not None
    return _WORKER.execute(run_id, began_on)


@DBOS.workflow(name=WORKFLOW)
def factory_run(run_id: str) -> str:
    """One run as a durable workflow: ``begin`` then ``execute``."""
    return _execute(run_id, _begin(run_id))


class WorkerDaemon(Daemon):
    """Sessions only: dequeues ``factory_run`` workflows, beats, recovers dead workers' runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["background"] = False
        super().__init__(*args, **kwargs)

    def start(self) -> None:
        """Build the run environment as ``Daemon.start`` does (no sources, no HTTP), launch DBOS."""
        global _WORKER
        url = require_postgres(self.settings.store_location)
        super().start()
        _WORKER = self
        config: DBOSConfig = {
            "name": APP,
            "system_database_url": url,
            "executor_id": self.instance,
            "application_version": __version__,
        }
        DBOS(config=config)
        DBOS.launch()
        DBOS.register_queue(
            QUEUE,
            global_concurrency=self.settings.concurrency,
            worker_concurrency=self.settings.worker_concurrency,
            polling_interval_sec=0.5,
            on_conflict="always_update",
        )
        beat(self.store, self.instance)
        log.info("worker_started", instance=self.instance, queue=QUEUE)

    def recover(self) -> None:
        """Nothing at start: DBOS resumes this executor's own pending workflows at launch."""

    def execute(self, run_id: str, began_on: str) -> str:
        """Execute ``run_id`` unless it already ended; after another worker died, first release
        that worker's claim on the subject."""
        run = self.store.get_run(run_id)
        if run.status != "running":
            return run.status
        if began_on != self.instance and self.github is not None:
            log.info("run_recovered", run_id=run_id, from_worker=began_on)
            release_claim(self.github, began_on, run)
            # Settle what the dead worker recorded as intent (performed, or found by marker)
            # before the session asks again: this run's intents only, never a live worker's.
            one_run = cast(RunStore, _OneRunIntents(self.store, run_id))
            reconcile_outputs(one_run, self.github, self.watcher.config, self.env)
        automation = self.watcher.config.automations.get(run.automation)
        if automation is None:
            reason = f"automation {run.automation!r} no longer exists"
            return self.store.finish_run(run_id, "cancelled", stop_reason=reason).status
        cancel = threading.Event()
        return self.runner.execute(run, cancel, automation)

    def serve_forever(self) -> None:
        """Beat and recover dead workers until SIGTERM/SIGINT; then leave at once."""
        signal.signal(signal.SIGTERM, self._stop_signal)
        signal.signal(signal.SIGINT, self._stop_signal)
        lapse = self.settings.worker_lapse_s
        while not self.stopping.wait(lapse / 3):
            try:
                beat(self.store, self.instance)
                for dead in take_dead(self.store, lapse, me=self.instance):
                    handles = DBOS._recover_pending_workflows([dead])
                    log.info("worker_recovered", dead=dead, workflows=len(handles))
            except Exception as exc:  # the beat must outlive one bad round (store busy, …)
                log.warning("worker_beat_failed", error=str(exc))
        self.shutdown()

    def _stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()

    def shutdown(self) -> None:
        """Mark this worker dead so a live one recovers its unfinished runs at once, and exit."""
        self.stopping.set()
        self.sandboxes.kill_all()
        try:
            beat(self.store, self.instance, at=DEAD)
        finally:
            log.info("worker_stopped", instance=self.instance)
            os._exit(0)
