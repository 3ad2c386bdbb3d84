"""Releasing workspaces: removed on success, kept on failure until swept after expiry."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from factory.workspace import Workspaces
from tests.workspace.conftest import FakeClock

MakeWorkspaces = Callable[..., Workspaces]
DAY = 86_400.0


def test_release_after_success_removes_workspace(make_workspaces: MakeWorkspaces) -> None:
    """A successful run's workspace is deleted on release."""
    wss = make_workspaces()
    ws = wss.prepare("RUN1")
    wss.release(ws, failed=False)
    assert list(wss.root.iterdir()) == []


def test_release_after_failure_keeps_workspace(make_workspaces: MakeWorkspaces) -> None:
    """A failed run's workspace stays on disk after release."""
    wss = make_workspaces(keep_failed_for=DAY)
    ws = wss.prepare("RUN1")
    wss.release(ws, failed=True)
    assert (ws.path / "README.md").exists()


def test_sweep_keeps_failed_workspace_until_expiry(make_workspaces: MakeWorkspaces) -> None:
    """Sweeping before keep_failed_for has passed removes nothing."""
    clock = FakeClock()
    wss = make_workspaces(keep_failed_for=DAY, clock=clock)
    ws = wss.prepare("RUN1")
    wss.release(ws, failed=True)
    clock.now += DAY - 1
    assert (wss.sweep(), ws.path.exists()) == ([], True)


def test_sweep_removes_failed_workspace_after_expiry(make_workspaces: MakeWorkspaces) -> None:
    """Sweeping after keep_failed_for has passed removes the workspace and its marker."""
    clock = FakeClock()
    wss = make_workspaces(keep_failed_for=DAY, clock=clock)
    ws = wss.prepare("RUN1")
    wss.release(ws, failed=True)
    clock.now += DAY
    assert (wss.sweep(), list(wss.root.iterdir())) == (["RUN1"], [])


def test_sweep_removes_only_expired(make_workspaces: MakeWorkspaces) -> None:
    """Of two kept workspaces only the one whose time is up is removed."""
    clock = FakeClock()
    wss = make_workspaces(keep_failed_for=DAY, clock=clock)
    old = wss.prepare("RUN1")
    wss.release(old, failed=True)
    clock.now += DAY / 2
    young = wss.prepare("RUN2")
    wss.release(young, failed=True)
    clock.now += DAY / 2
    assert (wss.sweep(), young.path.exists()) == (["RUN1"], True)


def test_sweep_leaves_running_workspaces(make_workspaces: MakeWorkspaces) -> None:
    """Without a list of active runs, workspaces not yet released are not touched."""
    wss = make_workspaces()
    ws = wss.prepare("RUN1")
    assert (wss.sweep(), ws.path.exists()) == ([], True)


def test_sweep_removes_orphans_not_active(make_workspaces: MakeWorkspaces) -> None:
    """Given the active runs, unreleased workspaces of other runs (crash leftovers) go."""
    wss = make_workspaces()
    active, orphan = wss.prepare("RUN1"), wss.prepare("RUN2")
    assert (wss.sweep(active_run_ids={"RUN1"}), active.path.exists(), orphan.path.exists()) == (
        ["RUN2"],
        True,
        False,
    )


def test_keep_zero_removes_failed_at_once(make_workspaces: MakeWorkspaces) -> None:
    """With keep_failed_for=0 a failed run's workspace is deleted on release."""
    wss = make_workspaces(keep_failed_for=0)
    ws = wss.prepare("RUN1")
    wss.release(ws, failed=True)
    assert ws.path.exists() is False


def test_negative_keep_rejected(make_workspaces: MakeWorkspaces) -> None:
    """A negative keep_failed_for is refused."""
    with pytest.raises(ValueError, match="keep_failed_for"):
        make_workspaces(keep_failed_for=-1)
