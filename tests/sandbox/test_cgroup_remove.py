"""PidsCgroup.remove: directories another thread removes first (no root needed), tasks left."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from factory.sandbox.cgroup import PidsCgroup, find_pids_root


def test_removing_a_cgroup_already_gone_is_done_not_an_error(tmp_path: Path) -> None:
    """close_run removed the run cgroup and its leaves while a command's own remove ran."""
    gone = tmp_path / "run-1-1-deadbeef"
    PidsCgroup.adopt(gone).remove()
    assert gone.exists() is False


def test_removing_a_cgroup_removes_its_leaves_first(tmp_path: Path) -> None:
    """The run and spare leaves inside go before the cgroup itself (rmdir needs it empty)."""
    run = tmp_path / "run-1-1-deadbeef"
    (run / "run-1-2-cafe").mkdir(parents=True)
    (run / "spare-1-3-beef").mkdir()
    PidsCgroup.adopt(run).remove()
    assert run.exists() is False


def test_removing_keeps_what_is_not_a_leaf_of_ours(tmp_path: Path) -> None:
    """Only run-* and spare-* directories are leaves; anything else stops the rmdir."""
    run = tmp_path / "run-1-1-deadbeef"
    (run / "other").mkdir(parents=True)
    PidsCgroup.adopt(run).remove()
    assert (run / "other").exists() is True


@pytest.mark.skipif(
    os.geteuid() != 0,
    reason=(
        "only a root daemon uses pids cgroups (an unprivileged one is limited by RLIMIT_NPROC, "
        "tests/sandbox/test_limits.py); CI runs as root, so these run there"
    ),
)
def test_removing_a_cgroup_kills_its_tasks_and_is_gone_when_they_are() -> None:
    """Tasks still in the cgroup are killed and awaited: the cgroup is gone, they are dead."""
    cgroup, sleepers = _cgroup_of_sleepers(3)
    cgroup.remove()
    codes = [proc.wait(timeout=10) for proc in sleepers]
    assert (cgroup.path.exists(), codes) == (False, [-9, -9, -9])


@pytest.mark.skipif(
    os.geteuid() != 0,
    reason=(
        "only a root daemon uses pids cgroups (an unprivileged one is limited by RLIMIT_NPROC, "
        "tests/sandbox/test_limits.py); CI runs as root, so these run there"
    ),
)
def test_kill_leaves_the_cgroup_and_signals_every_task() -> None:
    """kill (a timeout's hook) signals every task; the cgroup stays for remove."""
    cgroup, sleepers = _cgroup_of_sleepers(2)
    cgroup.kill()
    codes = [proc.wait(timeout=10) for proc in sleepers]
    still = cgroup.path.exists()
    cgroup.remove()
    assert (still, codes) == (True, [-9, -9])


def _cgroup_of_sleepers(count: int) -> tuple[PidsCgroup, list[subprocess.Popen[bytes]]]:
    """A new pids cgroup holding ``count`` ``sleep 30`` processes."""
    base = find_pids_root()
    assert base is not None
    cgroup = PidsCgroup(base, 10)
    sleepers = [subprocess.Popen(["sleep", "30"]) for _ in range(count)]
    for proc in sleepers:
        (cgroup.path / "cgroup.procs").write_text(str(proc.pid))
    return cgroup, sleepers
