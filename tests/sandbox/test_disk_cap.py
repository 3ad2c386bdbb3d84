"""A run's disk cap in the real sandbox: a write past it is ENOSPC inside, nothing else fills."""

from __future__ import annotations

import shutil
from pathlib import Path

from factory.interfaces import SandboxLimits
from factory.sandbox import make_sandbox
from factory.store import RunStore
from factory.workspace.overlay import OverlayWorkspaces
from tests.workspace.conftest import data, mirror, remote
from tests.workspace.overlay_fixtures import MakeOverlays, make_overlays, needs_root

__all__ = ["data", "make_overlays", "mirror", "remote"]  # the fixtures, used by name

pytestmark = needs_root

CAP_MB = 8
DD = f"dd if=/dev/zero of=big bs=1M count={CAP_MB * 4} 2>&1; echo rc=$?"
"""Writes four times the cap into the workspace."""
MARGIN = 4 * 1024 * 1024
"""Host free space may move this much meanwhile (other processes, the store's journal)."""


def _dd(wss: OverlayWorkspaces, run_id: str) -> tuple[str, Path]:
    ws = wss.prepare(run_id, disk_mb=CAP_MB)
    result = make_sandbox("bwrap").exec(
        ["sh", "-c", DD], workspace=ws.path, limits=SandboxLimits(timeout_s=60)
    )
    return result.stdout, ws.path


def test_dd_past_the_cap_is_enospc_inside(make_overlays: MakeOverlays) -> None:
    """dd of four times the cap fails inside the sandbox with "No space left on device"."""
    out, _ = _dd(make_overlays(), "RUN1")
    assert ("No space left on device" in out, out.strip().endswith("rc=1")) == (True, True)


def test_dd_past_the_cap_leaves_host_free_space(make_overlays: MakeOverlays, data: Path) -> None:
    """The host filesystem under the data directory loses no more than a small margin."""
    wss = make_overlays()
    wss.release(wss.prepare("WARM", disk_mb=CAP_MB), failed=False)  # the base exists first
    before = shutil.disk_usage(data).free
    _dd(wss, "RUN1")
    assert before - shutil.disk_usage(data).free < MARGIN


def test_store_writable_after_dd_past_the_cap(make_overlays: MakeOverlays, data: Path) -> None:
    """After a run filled its cap, the store in the data directory still takes writes."""
    _dd(make_overlays(), "RUN1")
    store = RunStore.open(data / "factory.db")
    run_id = store.create_run("triage")
    assert store.get_run(run_id).automation == "triage"


def test_other_run_unaffected_by_a_full_layer(make_overlays: MakeOverlays) -> None:
    """A second run on the same base still writes after the first filled its own cap."""
    wss = make_overlays()
    _dd(wss, "RUN1")
    ws = wss.prepare("RUN2", disk_mb=CAP_MB)
    result = make_sandbox("bwrap").exec(
        ["sh", "-c", "echo ok > f && cat f"], workspace=ws.path, limits=SandboxLimits()
    )
    assert result.stdout == "ok\n"


def test_cap_is_the_layer_size(make_overlays: MakeOverlays) -> None:
    """The layer under a run is a filesystem of exactly the cap it was given."""
    wss = make_overlays()
    wss.prepare("RUN1", disk_mb=CAP_MB)
    assert shutil.disk_usage(wss.layers / "RUN1").total == CAP_MB * 1024 * 1024
