"""Overlay workspaces: each run's own layer over one shared base checkout per commit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from factory.errors import WorkspaceError
from factory.workspace import Mirror, pull_ref
from factory.workspace.overlay import OverlayWorkspaces
from tests.workspace.conftest import Remote, git
from tests.workspace.overlay_fixtures import MakeOverlays, make_overlays, needs_root

__all__ = ["make_overlays"]  # the fixture, used by name

pytestmark = needs_root


def _upper(wss: OverlayWorkspaces, run_id: str) -> list[str]:
    upper = wss.layers / run_id / "upper"
    return sorted(
        str(Path(d, n).relative_to(upper)) for d, ds, fs in os.walk(upper) for n in [*ds, *fs]
    )


def test_workspace_is_an_overlay_mount(make_overlays: MakeOverlays) -> None:
    """The prepared workspace path is a mount point (the overlay), not a copied tree."""
    ws = make_overlays().prepare("RUN1")
    assert os.path.ismount(ws.path) is True


def test_default_branch_files_and_branch(make_overlays: MakeOverlays, remote: Remote) -> None:
    """The default branch is checked out on its branch at the mirror's commit."""
    ws = make_overlays().prepare("RUN1")
    result = (
        (ws.path / "src/app.py").read_text(),
        git("symbolic-ref", "HEAD", cwd=ws.path),
        git("rev-parse", "HEAD", cwd=ws.path),
    )
    assert result == ("print('v2')\n", "refs/heads/main", remote.shas["main"])


def test_first_git_status_copies_nothing_up(make_overlays: MakeOverlays) -> None:
    """After prepare and a first ``git status`` the upper dir holds HEAD and its log only."""
    wss = make_overlays()
    ws = wss.prepare("RUN1")
    status = git("status", "--porcelain", cwd=ws.path)
    assert (status, _upper(wss, "RUN1")) == (
        "",
        [".git", ".git/HEAD", ".git/logs", ".git/logs/HEAD", ".git/refs", ".git/refs/heads"],
    )


def test_base_is_self_contained(make_overlays: MakeOverlays, remote: Remote) -> None:
    """The base checkout has no alternates into the mirror."""
    wss = make_overlays()
    wss.prepare("RUN1")
    base = wss.bases.path_for(remote.shas["main"])
    assert (base / ".git/objects/info/alternates").exists() is False


def test_two_runs_share_one_base(make_overlays: MakeOverlays, remote: Remote) -> None:
    """Two runs on one commit use the same base, counted twice."""
    wss = make_overlays()
    wss.prepare("RUN1")
    wss.prepare("RUN2")
    assert wss.bases.users(remote.shas["main"]) == ["RUN1", "RUN2"]


def test_pull_request_overlays_default_branch_base(
    make_overlays: MakeOverlays, remote: Remote
) -> None:
    """A pull request workspace sits on the default branch's base and checks out the head."""
    wss = make_overlays()
    ws = wss.prepare("RUN1", pull_ref(1))
    result = (
        (ws.path / "pr.txt").read_text(),
        git("rev-parse", "HEAD", cwd=ws.path),
        wss.bases.users(remote.shas["main"]),
    )
    assert result == ("from the PR\n", remote.shas["pr1"], ["RUN1"])


def test_sha_is_detached(make_overlays: MakeOverlays, remote: Remote) -> None:
    """A sha gets a detached HEAD at that commit."""
    ws = make_overlays().prepare("RUN1", remote.shas["first"])
    assert git("rev-parse", "--symbolic-full-name", "HEAD", cwd=ws.path) == "HEAD"


def test_release_unmounts_and_deletes_layer(make_overlays: MakeOverlays) -> None:
    """Release after success leaves neither the workspace, its layer nor a mount."""
    wss = make_overlays()
    ws = wss.prepare("RUN1")
    wss.release(ws, failed=False)
    assert (ws.path.exists(), (wss.layers / "RUN1").exists()) == (False, False)


def test_release_drops_the_base_use(make_overlays: MakeOverlays, remote: Remote) -> None:
    """A released run no longer counts as a user of its base."""
    wss = make_overlays()
    wss.release(wss.prepare("RUN1"), failed=False)
    assert wss.bases.users(remote.shas["main"]) == []


def test_kept_failed_workspace_holds_its_base(make_overlays: MakeOverlays, remote: Remote) -> None:
    """A kept failed workspace stays mounted and keeps its base counted, even after prune."""
    wss = make_overlays(keep_failed_for=60.0)
    ws = wss.prepare("RUN1")
    (ws.path / "note.txt").write_text("kept\n")
    wss.release(ws, failed=True)
    wss.bases.keep_unused = 0
    wss.sweep()
    result = ((ws.path / "note.txt").read_text(), wss.bases.path_for(remote.shas["main"]).is_dir())
    assert result == ("kept\n", True)


def test_unused_base_pruned_beyond_keep(make_overlays: MakeOverlays, remote: Remote) -> None:
    """With keep_unused 0, a sweep removes a base no run uses."""
    wss = make_overlays()
    wss.bases.keep_unused = 0
    wss.release(wss.prepare("RUN1"), failed=False)
    wss.sweep()
    assert wss.bases.path_for(remote.shas["main"]).exists() is False


def test_sweep_after_crash_unmounts_everything(
    data: Path, mirror: Mirror, make_overlays: MakeOverlays
) -> None:
    """A new daemon's recovery sweep unmounts and removes overlays a crash left."""
    make_overlays().prepare("RUN1")
    fresh = make_overlays()  # another instance: nothing in memory about RUN1
    fresh.sweep(active_run_ids=set())
    mounted = [
        line for line in Path("/proc/self/mounts").read_text().splitlines() if str(data) in line
    ]
    assert (mounted, (data / "workspaces" / "RUN1").exists()) == ([], False)


def test_unknown_ref_leaves_no_mount(make_overlays: MakeOverlays, data: Path) -> None:
    """A failed prepare leaves no workspace, layer or mount behind."""
    wss = make_overlays()
    with pytest.raises(WorkspaceError):
        wss.prepare("RUN1", pull_ref(42))
    mounted = [
        line for line in Path("/proc/self/mounts").read_text().splitlines() if str(data) in line
    ]
    assert (mounted, sorted(p.name for p in wss.layers.iterdir())) == ([], [])
