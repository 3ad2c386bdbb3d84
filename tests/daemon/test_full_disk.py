"""A full disk fails the run with a recorded reason and leaves no run ``running``.

The disk really fills: a small tmpfs is mounted (the tests run as root) under the daemon's
data directory — on ``workspaces/`` alone, or on the whole directory so that the store
cannot write either — and a filler file takes every free byte. Kept failed workspaces are
swept on a timer while the daemon runs, not only at start.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from factory.daemon.process import Daemon
from factory.store import RunRecord
from factory.testing.fake_anthropic import FakeReply
from factory.testing.sample import MAINTAINER, READY, REPO
from tests.daemon.conftest import Factory, run_daemon, wait_for
from tests.sandbox.conftest import host_pids_with

Mount = Callable[[Path, str], Path]
MARKER = "factoryd-full-disk-7c2e"


@pytest.fixture
def tmpfs() -> Iterator[Mount]:
    """Mount a tmpfs of the given size on a directory; unmounted after the test."""
    mounted: list[Path] = []

    def mount(where: Path, size: str) -> Path:
        where.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            problem = f"cannot mount a tmpfs to fill: {done.stderr.strip()}"
            if os.geteuid() == 0:
                pytest.fail(problem)  # as root (make test here, CI) the disk tests must run
            pytest.skip(f"{problem} (mounting needs root; run make test as root)")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> Path:
    """Write a file into ``folder`` until its filesystem has no byte left; return the file."""
    filler = folder / ".filler"  # a dot: no run id, so no sweep takes it for a workspace
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 1):  # then the last partial blocks
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    return filler


def _only_builder(factory: Factory) -> None:
    for other in factory.settings.automations_dir.glob("*.yaml"):
        if other.name != "builder.yaml":
            other.unlink()


def _first_builder_run(factory: Factory, *, finished: bool) -> RunRecord:
    def find() -> RunRecord | None:
        runs = [r for r in factory.runs("builder") if r.attempt == 1]
        if runs and (runs[0].finished or not finished):
            return runs[0]
        return None

    found: RunRecord = wait_for(find, timeout_s=60, what="the builder's first run")
    return found


def test_full_workspace_disk_fails_the_run_with_no_space(factory: Factory, tmpfs: Mount) -> None:
    """A workspace that cannot be written ends the run failed, reason no space, none running."""
    _only_builder(factory)
    fill(tmpfs(Path(factory.settings.data_dir) / "workspaces", "2m"))
    running = run_daemon(factory)
    try:
        factory.github.add_labels(REPO, factory.world.bug, READY, as_user=MAINTAINER)
        run = _first_builder_run(factory, finished=True)
    finally:
        running.stop()
    still_running = [r.id for r in factory.runs() if r.status == "running"]
    assert (run.status, run.stop_reason, still_running) == (
        "failed",
        "no space left on device",
        [],
    )


def _sleep_then_done(body: dict[str, Any]) -> FakeReply:
    """Turn 1: a command that sleeps (the disk fills meanwhile); then the model stops."""
    if any(m["role"] == "assistant" for m in body["messages"]):
        return FakeReply([{"type": "text", "text": "Done."}])
    command = {"command": f"sleep 3 # {MARKER}"}
    return FakeReply([{"type": "tool_use", "id": "toolu_1", "name": "bash", "input": command}])


def test_full_store_disk_finishes_the_row_once_space_returns(
    factory: Factory, tmpfs: Mount
) -> None:
    """When the store cannot write, the run's row is finished failed as soon as space exists."""
    _only_builder(factory)
    factory.anthropic.responder = _sleep_then_done
    data = tmpfs(Path(factory.settings.data_dir), "24m")
    running = run_daemon(factory)
    try:
        factory.github.add_labels(REPO, factory.world.bug, READY, as_user=MAINTAINER)
        run = _first_builder_run(factory, finished=False)
        wait_for(lambda: host_pids_with(MARKER), what="the sandboxed command")
        filler = fill(data)
        time.sleep(6)  # the command ends; recording its result finds the disk full
        during = _first_builder_run(factory, finished=False).status
        filler.unlink()
        done = _first_builder_run(factory, finished=True)
    finally:
        running.stop()
    still_running = [r.id for r in factory.runs() if r.status == "running"]
    assert (during, done.id, done.status, done.stop_reason, still_running) == (
        "running",
        run.id,
        "failed",
        "no space left on device",
        [],
    )


def test_row_the_full_store_could_not_finish_is_recovered_at_next_start(
    factory: Factory, tmpfs: Mount
) -> None:
    """A run still ``running`` when the daemon stops on a full store is interrupted and
    re-queued by the next daemon's recovery once space exists."""
    _only_builder(factory)
    factory.anthropic.responder = _sleep_then_done
    data = tmpfs(Path(factory.settings.data_dir), "24m")
    running = run_daemon(factory)
    try:
        factory.github.add_labels(REPO, factory.world.bug, READY, as_user=MAINTAINER)
        _first_builder_run(factory, finished=False)
        wait_for(lambda: host_pids_with(MARKER), what="the sandboxed command")
        filler = fill(data)
        time.sleep(6)  # the command ends; recording its result finds the disk full
    finally:
        running.stop()
    left = [(r.attempt, r.status) for r in factory.runs("builder")]
    filler.unlink()
    again = factory.daemon()
    again.start()
    again.shutdown()
    after = sorted((r.attempt, r.status) for r in factory.runs("builder"))
    assert (left, after) == ([(1, "running")], [(1, "interrupted"), (2, "queued")])


def test_kept_failed_workspaces_are_swept_on_a_timer(factory: Factory) -> None:
    """A kept workspace whose time is up is removed by the running daemon's periodic sweep."""
    daemon = Daemon(factory.settings, sweep_interval_s=0.2)
    daemon.start()
    try:
        workspaces = daemon.env.workspaces
        assert workspaces is not None
        kept = workspaces.path_for("run-kept-1")
        kept.mkdir(parents=True)
        (workspaces.root / "run-kept-1.kept").write_text(f"{time.time() + 0.5:.3f}\n")
        wait_for(lambda: not kept.exists(), timeout_s=10, what="the kept workspace swept")
    finally:
        daemon.shutdown()
    assert kept.exists() is False
