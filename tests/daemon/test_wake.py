"""A run queued by another process is noticed at once, not at the loop's next 1 s tick."""

from __future__ import annotations

import subprocess
import sys
from functools import partial

from factory.store import RunRecord
from tests.daemon.conftest import ROOT, Factory, daemon_env, run_daemon, wait_for

ROUNDS = 3
"""Runs queued one after the other: with a 1 s tick each would start after 0-1 s, so three
starting within 0.2 s by chance is under one in a hundred."""


def _queue_from_cli(factory: Factory) -> str:
    """Run ``factoryd run builder --issue N`` in a child process; return the queued run id."""
    result = subprocess.run(
        [sys.executable, "-m", "factory", "run", "builder", "--issue", str(factory.world.bug)],
        env=daemon_env(factory.settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout.startswith("queued run "), result.stdout + result.stderr
    return result.stdout.split()[2]


def _finished(factory: Factory, run_id: str) -> RunRecord | None:
    return next((r for r in factory.runs() if r.id == run_id and r.finished), None)


def test_run_queued_by_another_process_starts_within_0_2_s(factory: Factory) -> None:
    """Three runs queued by `factoryd run` in child processes each start within 0.2 s."""
    running = run_daemon(factory)
    delays: list[float] = []
    try:
        for _ in range(ROUNDS):
            run_id = _queue_from_cli(factory)
            run = wait_for(partial(_finished, factory, run_id), what=f"run {run_id} to finish")
            assert run.started_at is not None
            delays.append((run.started_at - run.queued_at).total_seconds())
    finally:
        running.stop()
    assert [delay <= 0.2 for delay in delays] == [True] * ROUNDS, delays
