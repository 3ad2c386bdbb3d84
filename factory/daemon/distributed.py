"""Distributed execution on DBOS: ``factoryd start --role control`` and ``factoryd worker``.

The control runs sources, scheduler, dispatch, webhooks and the viewer like the all-in-one
daemon, but its executor (``DbosExecutor``) does not run sessions: a run it starts (marked
``running`` once the dispatcher's limits allow: global, per automation, one per subject) is
enqueued as the durable DBOS workflow ``factory_run`` with the run id as workflow id (enqueuing
twice is a no-op) on the queue ``factory-runs`` (``global_concurrency`` = FACTORY_CONCURRENCY,
``worker_concurrency`` = FACTORY_WORKER_CONCURRENCY). Workers dequeue and execute it.

The workflow's steps are the run's phases (``Runner.claim``, ``prepare``, ``work``,
``finish``; see runphases.py): ``begin`` checkpoints which worker began the run; ``claim``
claims the subject on GitHub, snapshots it and checks approvals; ``workspace`` prepares the
workspace (the overlay, the sandbox's run cgroup, the egress proxy); ``session`` runs the
session, which performs its outputs as the agent asks (intent first, idempotent by marker);
``outputs`` settles any intent the run left open (performed, or found by its marker);
``finish`` writes the final status and the re-queue decisions. Each step's result is a small
JSON-safe value DBOS checkpoints (the claiming worker's id, an ``Outcome``, a count).

The claim, its heartbeat thread, the workspace and the cleanup stack (claim release, workspace
release, the sandbox's cgroup) are host-local: they pass from ``claim`` to ``workspace`` to
``session`` through the worker's in-process ``claimed`` table, never through DBOS. When a
worker dies DBOS recovers the workflow elsewhere (or on this worker after a restart) and
replays the finished steps: dead in ``claim``, the step runs again after releasing the dead
worker's claim and settling this run's pending intents; dead after ``claim``, in
``workspace`` or in ``session``, the next of those steps finds no table entry, does the same
and claims (and prepares) anew, then runs the session (its outputs write nothing twice); dead
after ``session``, only ``outputs`` and ``finish`` run, with the checkpointed Outcome: no
second model conversation, no second set of writes. A dead worker is found by its heartbeat row
(factory/store/workers.py) lapsing; the live worker that takes the row calls DBOS's recovery
for that executor id.
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
from factory.crashpoints import crashpoint
from factory.daemon.process import Daemon
from factory.daemon.recovery import reconcile_outputs, release_claim
from factory.daemon.runphases import Claimed, Outcome
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


@DBOS.step(name="claim")
def _claim(run_id: str, began_on: str) -> dict[str, Any]:
    """Claim the run's subject on this worker (kept in its table); checkpoint the verdict."""
    assert _WORKER is not None
    return _WORKER.claim_step(run_id, began_on)


@DBOS.step(name="workspace")
def _workspace(run_id: str, claimed_on: str) -> dict[str, Any] | None:
    """Prepare the run's workspace on this worker (kept in its table); the Outcome if that
    decided the run (a failure), else None."""
    assert _WORKER is not None
    return _WORKER.workspace_step(run_id, claimed_on)


@DBOS.step(name="session")
def _session(run_id: str, claimed_on: str) -> dict[str, Any]:
    """Workspace, session and its outputs; checkpoint the Outcome (replayed, never re-run)."""
    assert _WORKER is not None
    return _WORKER.session_step(run_id, claimed_on)


@DBOS.step(name="outputs")
def _outputs(run_id: str) -> int:
    """Settle every output intent the run left (performed, or found by its marker)."""
    assert _WORKER is not None
    return _WORKER.outputs_step(run_id)


@DBOS.step(name="finish")
def _finish(run_id: str, outcome: dict[str, Any]) -> str:
    """Write the checkpointed Outcome as the run's final status; return it."""
    assert _WORKER is not None
    return _WORKER.finish_step(run_id, outcome)


@DBOS.workflow(name=WORKFLOW)
def factory_run(run_id: str) -> str:
    """One run as a durable workflow: ``begin`` → ``claim`` → ``workspace`` → ``session`` →
    ``outputs`` → ``finish`` (a phase that decides the run skips the phases up to outputs)."""
    claimed = _claim(run_id, _begin(run_id))
    if claimed["ended"] is not None:
        return str(claimed["ended"])
    crashpoint("run_after_claim_step")
    outcome = claimed["outcome"] or _workspace(run_id, claimed["on"])
    outcome = outcome or _session(run_id, claimed["on"])
    _outputs(run_id)
    return _finish(run_id, outcome)


class WorkerDaemon(Daemon):
    """Sessions only: dequeues ``factory_run`` workflows, beats, recovers dead workers' runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["background"] = False
        super().__init__(*args, **kwargs)
        self.claimed: dict[str, Claimed] = {}
        """Runs whose ``claim`` step ran here and whose ``session`` step has not begun."""

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

    def claim_step(self, run_id: str, began_on: str) -> dict[str, Any]:
        """The ``claim`` step: ``{"ended": status}`` for a run already ended, else the worker
        that claimed (``on``) and the claim phase's Outcome when it decided the run already.
        The live claim stays in this worker's ``claimed`` table for the ``session`` step."""
        run = self.store.get_run(run_id)
        if run.status != "running":
            return {"ended": run.status}
        if began_on != self.instance:
            self._take_over(run, began_on, "claim")
        automation = self.watcher.config.automations.get(run.automation)
        if automation is None:
            return {"ended": self._cancel_missing(run)}
        claimed = self.runner.claim(run, automation, threading.Event())
        if claimed.outcome is not None:
            return {"ended": None, "on": self.instance, "outcome": claimed.outcome.to_json()}
        self.claimed[run_id] = claimed
        return {"ended": None, "on": self.instance, "outcome": None}

    def workspace_step(self, run_id: str, claimed_on: str) -> dict[str, Any] | None:
        """The ``workspace`` step: prepare the workspace on this worker's claim (claimed anew
        when the workflow was recovered here); the Outcome when that decided the run."""
        claimed = self._claimed_here(run_id, claimed_on, "workspace")
        if isinstance(claimed, Outcome):
            return claimed.to_json()
        self.runner.prepare(claimed)
        if claimed.outcome is not None:
            return claimed.outcome.to_json()
        self.claimed[run_id] = claimed
        return None

    def session_step(self, run_id: str, claimed_on: str) -> dict[str, Any]:
        """The ``session`` step: run the work phase on this worker's claim and workspace;
        without them (the workflow was recovered here, or this worker restarted) release the
        claiming worker's claim, settle its intents, claim and prepare anew first."""
        claimed = self._claimed_here(run_id, claimed_on, "session")
        if isinstance(claimed, Outcome):
            return claimed.to_json()
        return self.runner.work(claimed).to_json()

    def outputs_step(self, run_id: str) -> int:
        """The ``outputs`` step: settle this run's output intents still open (a performer
        that raised, or a worker that died after its session); return how many."""
        if self.github is None:
            return 0
        one_run = cast(RunStore, _OneRunIntents(self.store, run_id))
        return reconcile_outputs(one_run, self.github, self.watcher.config, self.env)

    def _claimed_here(self, run_id: str, claimed_on: str, step: str) -> Claimed | Outcome:
        """This worker's live claim of ``run_id`` (taken out of its table); else, after a
        take-over from ``claimed_on``, a new claim; an Outcome when the run needs no more."""
        claimed = self.claimed.pop(run_id, None)
        if claimed is not None:
            return claimed
        run = self.store.get_run(run_id)
        automation = self.watcher.config.automations.get(run.automation)
        if run.status != "running" or automation is None:
            return Outcome(run.status)  # finish reads the row and keeps it
        self._take_over(run, claimed_on, step)
        claimed = self.runner.claim(run, automation, threading.Event())
        return claimed.outcome or claimed

    def finish_step(self, run_id: str, outcome: dict[str, Any]) -> str:
        """The ``finish`` step: write ``outcome`` unless the run ended already."""
        run = self.store.get_run(run_id)
        if run.status != "running":
            return run.status
        automation = self.watcher.config.automations.get(run.automation)
        if automation is None:
            return self._cancel_missing(run)
        return self.runner.finish(run, automation, Outcome.from_json(outcome))

    def _take_over(self, run: RunRecord, holder: str, step: str) -> None:
        """Release ``holder``'s claim on the run's subject and settle the run's intents."""
        if self.github is None:
            return
        log.info("run_recovered", run_id=run.id, from_worker=holder, step=step)
        release_claim(self.github, holder, run)
        # Settle what the dead worker recorded as intent (performed, or found by marker)
        # before the session asks again: this run's intents only, never a live worker's.
        one_run = cast(RunStore, _OneRunIntents(self.store, run.id))
        reconcile_outputs(one_run, self.github, self.watcher.config, self.env)

    def _cancel_missing(self, run: RunRecord) -> str:
        reason = f"automation {run.automation!r} no longer exists"
        return self.store.finish_run(run.id, "cancelled", stop_reason=reason).status

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
