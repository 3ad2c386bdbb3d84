"""SIGTERM with two runs in flight: the daemon exits fast, marks both, leaves no sandbox behind."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from factory.store import RunStore
from factory.testing.fake_anthropic import FakeReply
from factory.testing.processes import DaemonProcess
from factory.testing.sample import MAINTAINER, READY, REPO
from tests.daemon.conftest import ROOT, Factory, daemon_env, wait_for

MARKER = f"factoryd-shutdown-test-{uuid.uuid4().hex[:12]}"
"""Unique per test process, so a concurrent run of this test elsewhere on the host cannot
count as ours."""


def _sleeping_builder(body: dict[str, Any]) -> FakeReply:
    """A model that starts a long command in the sandbox and would wait on it."""
    return FakeReply(
        [
            {
                "type": "tool_use",
                "id": "toolu_sleep",
                "name": "bash",
                "input": {"command": f"sleep 300 # {MARKER}"},
            }
        ]
    )


def _marker_processes() -> list[int]:
    """Host pids whose command line carries the test's marker (sandboxed sleeps, bwrap)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if MARKER.encode() in cmdline and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def _running(db: Path) -> list[str]:
    """Ids of the runs the daemon's store shows running."""
    with RunStore.open(db, readonly=True) as store:
        return [r.id for r in store.list_runs(status="running")]


def test_sigterm_with_two_runs_in_flight(factory: Factory) -> None:
    """Exit within 10 s, both runs interrupted, no sandboxed process left on the host."""
    factory.anthropic.responder = _sleeping_builder
    settings = factory.settings
    for other in settings.automations_dir.glob("*.yaml"):
        if other.name != "builder.yaml":
            other.unlink()  # only builder runs: the two in flight are the two labelled issues
    env = daemon_env(settings, FACTORY_POLL_INTERVAL="0.3")
    daemon = DaemonProcess(env, ROOT)
    daemon.wait_started()
    try:
        factory.github.add_labels(REPO, factory.world.bug, READY, as_user=MAINTAINER)
        factory.github.add_labels(REPO, factory.world.plain, READY, as_user=MAINTAINER)
        # One run's sandbox alone shows two marker processes (bwrap and its shell): wait for
        # both runs to be running in the store and for both sandboxes.
        wait_for(
            lambda: len(_running(settings.db_path)) == 2 and len(_marker_processes()) >= 4,
            what="two runs with sandboxed commands",
        )
        with RunStore.open(settings.db_path, readonly=True) as store:
            running = [r.id for r in store.list_runs(status="running")]
        started = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        daemon.proc.wait(timeout=30)
        took = time.monotonic() - started
    finally:
        daemon.kill()
    with RunStore.open(settings.db_path, readonly=True) as store:
        statuses = [store.get_run(run_id).status for run_id in running]
    # The sandboxes die with the daemon (killed at shutdown, --die-with-parent as backup).
    wait_for(lambda: not _marker_processes(), timeout_s=5, what="no sandboxed process left")
    outcome = (len(running), statuses, took < 10)
    assert outcome == (2, ["interrupted", "interrupted"], True), "\n".join(daemon.tail)
