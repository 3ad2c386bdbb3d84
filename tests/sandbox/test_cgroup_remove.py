"""PidsCgroup.remove on directories that another thread removes first (no root needed)."""

from __future__ import annotations

from pathlib import Path

from factory.sandbox.cgroup import PidsCgroup


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
