"""Copy-free per-run workspaces: an overlay of the run's own layer over a shared base.

Invariant (as in ``factory.workspace.checkout``): host git runs in a workspace only inside
``prepare``, before any agent has seen it; afterwards the daemon only unmounts and deletes.

Each run gets ``<data>/workspaces/.layers/<run_id>/``, a tmpfs of the run's disk cap
(``factory.workspace.diskcap``) holding ``upper/`` and ``work/``, and an overlay mounted at
``<data>/workspaces/<run_id>/`` (the path the sandbox binds, unchanged) with the read-only
base of its commit (``factory.workspace.base``) below. Whatever the agent writes, ``.git``
included (config, hooks, truncated packs), is copied up into its own layer; the base, the
mirror and other runs' layers are never bound into the sandbox, so nothing reaches them.
A branch workspace only writes ``HEAD`` and one ref into the layer; a pull request
workspace overlays the default branch's base, fetches the head from the mirror into the
layer and checks it out (only the files the pull request changes are copied up).

Cleanup is unmount and delete the layer; a failed run's workspace is kept mounted until
``sweep`` expires it, and holds its base until then. Mounts need root: for a non-root
daemon ``make_workspaces`` falls back to full checkouts (``Workspaces``), logged loudly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from pathlib import Path

import structlog

from factory.errors import GitError, WorkspaceError
from factory.workspace import gitreset
from factory.workspace.base import Bases
from factory.workspace.checkout import (
    _RUN_ID_RE,
    Workspace,
    Workspaces,
    _branch_for,
    _force_rmtree,
)
from factory.workspace.diskcap import can_mount, mount_overlay, mount_tmpfs, unmount
from factory.workspace.gitutil import run_git
from factory.workspace.mirror import Mirror

log = structlog.get_logger(__name__)

DEFAULT_DISK_MB = 2048
"""A run's disk cap when the caller names none (policy ``sandbox.disk`` overrides it)."""
LAYERS = ".layers"
INFO_SUFFIX = ".info"
"""``.layers/<run_id>.info``: the run's base sha and disk cap in MiB, for people and sweeps."""


class OverlayWorkspaces(Workspaces):
    """Per-run overlays over shared base checkouts; same interface as ``Workspaces``."""

    def __init__(
        self,
        data_dir: Path,
        mirror: Mirror,
        *,
        keep_failed_for: float = 24 * 3600.0,
        clock: Callable[[], float] = time.time,
        default_disk_mb: int = DEFAULT_DISK_MB,
    ) -> None:
        """As ``Workspaces``; each layer is a tmpfs of ``default_disk_mb`` unless told."""
        super().__init__(data_dir, mirror, keep_failed_for=keep_failed_for, clock=clock)
        self.bases = Bases(data_dir, mirror)
        self.layers = self.root / LAYERS
        self.default_disk_mb = default_disk_mb

    def prepare(
        self, run_id: str, ref: str | None = None, *, disk_mb: int | None = None
    ) -> Workspace:
        """Mount run ``run_id``'s overlay of ``ref`` (``None``: the default branch).

        ``disk_mb`` caps what the run may write (default ``default_disk_mb``). Does not
        fetch. Raises WorkspaceError if the ref is unknown, the workspace exists, git or a
        mount fails; ValueError on a bad run id.
        """
        dest = self.path_for(run_id)
        layer = self.layers / run_id
        self.layers.mkdir(parents=True, exist_ok=True)
        try:
            dest.mkdir()
        except FileExistsError:
            raise WorkspaceError(f"workspace of run {run_id} already exists at {dest}") from None
        try:
            full_ref, sha = self.mirror.resolve(ref)
            pull = full_ref.startswith("refs/pull/")
            base_sha = self.mirror.resolve(None)[1] if pull else sha
            cap_mb = disk_mb or self.default_disk_mb
            # Written on the workspaces' own disk, not the layer: a full disk fails here.
            (self.layers / f"{run_id}{INFO_SUFFIX}").write_text(f"{base_sha} {cap_mb}\n")
            lower = self.bases.acquire(base_sha, run_id)
            layer.mkdir()
            mount_tmpfs(layer, cap_mb)
            (layer / "upper").mkdir()
            (layer / "work").mkdir()
            mount_overlay(lower, layer / "upper", layer / "work", dest)
            self._check_out(dest, full_ref, sha, pull)
            gitreset.snapshot(layer)  # what the export puts back (factory.workspace.gitreset)
        except (GitError, WorkspaceError, OSError) as exc:
            self._remove(run_id)
            if isinstance(exc, WorkspaceError):
                raise
            raise WorkspaceError(f"could not prepare workspace of run {run_id}: {exc}") from exc
        log.info("workspace_prepared", run_id=run_id, ref=full_ref, base_sha=sha, overlay=True)
        return Workspace(run_id=run_id, path=dest, ref=full_ref, base_sha=sha)

    def _check_out(self, dest: Path, full_ref: str, sha: str, pull: bool) -> None:
        branch = _branch_for(full_ref)
        if pull:
            with self.mirror.reading() as mirror_path:
                fetch = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head"]
                run_git([*fetch, "--", str(mirror_path), f"+{full_ref}:refs/{branch}"], cwd=dest)
            run_git(["checkout", "--quiet", "-B", str(branch), sha], cwd=dest)
        elif branch is not None:
            # The base is detached at ``sha``: naming the branch writes HEAD and one ref.
            run_git(["update-ref", f"refs/heads/{branch}", sha], cwd=dest)
            run_git(["symbolic-ref", "HEAD", f"refs/heads/{branch}"], cwd=dest)

    def _remove(self, run_id: str) -> None:
        """Unmount and delete run ``run_id``'s overlay and layer; stop using its base."""
        dest = self.path_for(run_id)
        layer = self.layers / run_id
        unmount(dest)
        unmount(layer)
        _force_rmtree(layer)
        (self.layers / f"{run_id}{INFO_SUFFIX}").unlink(missing_ok=True)
        super()._remove(run_id)
        self.bases.release(run_id)

    def sweep(self, *, active_run_ids: Collection[str] | None = None) -> list[str]:
        """As ``Workspaces.sweep``; also drops layers and base uses left without a
        workspace (a crash mid-prepare), then prunes unused bases."""
        removed = super().sweep(active_run_ids=active_run_ids)
        if self.layers.is_dir():
            for layer in sorted(self.layers.iterdir()):
                run_id = layer.name.removesuffix(INFO_SUFFIX)
                if _RUN_ID_RE.match(run_id) and not self.path_for(run_id).exists():
                    self._remove(run_id)
        if active_run_ids is not None and self.bases.root.is_dir():
            for mark in self.bases.root.glob("*.users/*"):
                if not self.path_for(mark.name).exists():
                    mark.unlink(missing_ok=True)
        self.bases.prune()
        return removed


def make_workspaces(
    data_dir: Path,
    mirror: Mirror,
    *,
    keep_failed_for: float = 24 * 3600.0,
    default_disk_mb: int = DEFAULT_DISK_MB,
) -> Workspaces:
    """Return overlay workspaces when this process may mount (root), else full checkouts.

    The fallback is logged as a warning: it copies the repository per run and has no
    per-run disk cap.
    """
    if can_mount():
        return OverlayWorkspaces(
            data_dir, mirror, keep_failed_for=keep_failed_for, default_disk_mb=default_disk_mb
        )
    log.warning(
        "workspace_overlay_unavailable",
        reason="not root: cannot mount overlays; each run gets a full checkout, no disk cap",
    )
    return Workspaces(data_dir, mirror, keep_failed_for=keep_failed_for)
