"""How a started run gets executed: the ``Executor`` protocol and the in-process default.

The daemon's loop picks a runnable run, marks it ``running`` and hands it to its executor.
``InProcessExecutor`` (the default, one host) runs ``Runner.execute`` in a thread of this
process and keeps it in the daemon's ``active`` map for shutdown and ``/healthz``.
``factory.daemon.distributed.DbosExecutor`` instead enqueues the run as a durable DBOS
workflow that some ``factoryd worker`` executes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from factory.config.automation import Automation
from factory.daemon.runner import Runner
from factory.store import RunRecord


class Executor(Protocol):
    """Executes runs the daemon has started (status ``running``) to a final status."""

    def launch(self, run: RunRecord, automation: Automation) -> None:
        """Begin executing ``run`` with ``automation``; return without waiting for it."""
        ...


@dataclass
class Active:
    """One run a worker thread executes."""

    run: RunRecord
    cancel: threading.Event
    thread: threading.Thread


class InProcessExecutor:
    """Each run in a thread of this process (the single-host behaviour)."""

    def __init__(self, runner: Runner, active: dict[str, Active], wake: threading.Event) -> None:
        self.runner = runner
        self.active = active
        self.wake = wake

    def launch(self, run: RunRecord, automation: Automation) -> None:
        """Start a thread that executes ``run``; it leaves ``active`` and wakes the loop at end."""
        cancel = threading.Event()

        def work() -> None:
            try:
                self.runner.execute(run, cancel, automation)
            finally:
                self.active.pop(run.id, None)
                self.wake.set()

        thread = threading.Thread(target=work, name=f"run-{run.id}", daemon=True)
        self.active[run.id] = Active(run, cancel, thread)
        thread.start()
