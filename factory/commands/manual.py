"""``factoryd run AUTOMATION [--issue N | --pr N]``: a manual trigger.

If a daemon runs on the data directory (it holds ``daemon.lock``), the run is queued into
its store and that daemon picks it up within 0.2 s (it watches the store's data_version).
Otherwise this process takes the lock, starts the daemon's parts without its background
threads, runs that one run (and nothing else that may be queued), and stops.
"""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path

from factory.config.loader import load_factory
from factory.daemon.dispatch import Dispatcher, enqueue_manual
from factory.daemon.process import Daemon
from factory.events import Subject
from factory.settings import Settings
from factory.store import RunStore


def daemon_running(data_dir: Path) -> bool:
    """Return True when another process holds the data directory's daemon lock."""
    path = data_dir / "daemon.lock"
    if not path.exists():
        return False
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def run_manual(
    settings: Settings,
    automation: str,
    *,
    subject: Subject | None = None,
    task: str | None = None,
) -> str:
    """Trigger ``automation`` by hand; return a sentence saying what happened.

    Raises ValueError for an unknown automation or a missing subject; what Daemon.start
    raises when it runs in-process.
    """
    data_dir = Path(settings.data_dir)
    if daemon_running(data_dir):
        config = load_factory(settings.automations_dir, settings.harness_dir)
        with RunStore.open(settings.store_location) as store:
            decision = enqueue_manual(
                store, Dispatcher(store, lambda: config), automation, subject=subject, task=task
            )
        if decision.status != "queued":
            return f"run {decision.run_id} skipped: {decision.reason}"
        return (
            f"queued run {decision.run_id} in the running daemon; "
            f"follow it with: factoryd show {decision.run_id}"
        )
    daemon = Daemon(settings, background=False)
    daemon.start()
    try:
        run_id = daemon.enqueue_manual(automation, subject=subject, task=task)
        run = daemon.store.get_run(run_id)
        if run.status == "queued":
            # Only this run: whatever else is queued waits for the daemon.
            spec = daemon.watcher.config.automations[automation]
            version = (spec.content_hash, spec.source_text)
            started = daemon.store.start_run(run_id, daemon.instance, version=version)
            daemon.runner.execute(started, threading.Event(), spec)
    finally:
        daemon.shutdown()
    run = daemon.store.get_run(run_id)
    reason = f" ({run.stop_reason})" if run.stop_reason else ""
    return f"run {run_id}: {run.status}{reason}; transcript: factoryd show {run_id}"
