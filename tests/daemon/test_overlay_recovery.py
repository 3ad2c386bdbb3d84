"""Recovery at daemon start unmounts and removes the overlay workspaces a crash left."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from factory.workspace.overlay import OverlayWorkspaces
from tests.daemon.test_recovery_mutants import Rig, rig

__all__ = ["rig"]  # the fixture, used by name

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")

CRASHED = "01CRASHEDRUNAAAAAAAAAAAAAA"


def _mounts_under(root: Path) -> list[str]:
    lines = Path("/proc/self/mounts").read_text().splitlines()
    return [line.split()[1] for line in lines if line.split()[1].startswith(str(root))]


def test_recovery_unmounts_overlays_a_crash_left(rig: Rig) -> None:
    """An overlay and its layer mounted by a crashed daemon are unmounted and deleted."""
    rig.side.mirror.fetch()
    crashed = OverlayWorkspaces(rig.tmp, rig.side.mirror)  # the daemon that died
    ws = crashed.prepare(CRASHED)
    rig.env.workspaces = OverlayWorkspaces(rig.tmp, rig.side.mirror)  # the new start's
    rig.recover()
    assert (_mounts_under(rig.tmp), ws.path.exists()) == ([], False)


def test_recovery_drops_the_crashed_runs_base_use(rig: Rig) -> None:
    """After recovery the crashed run no longer holds its base checkout."""
    rig.side.mirror.fetch()
    ws = OverlayWorkspaces(rig.tmp, rig.side.mirror).prepare(CRASHED)
    fresh = OverlayWorkspaces(rig.tmp, rig.side.mirror)
    rig.env.workspaces = fresh
    rig.recover()
    assert fresh.bases.users(ws.base_sha) == []
