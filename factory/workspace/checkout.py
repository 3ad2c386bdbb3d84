"""Per-run checkouts made from the mirror, and their cleanup.

Invariant: host git runs in a workspace only inside ``prepare``, before any agent has
seen it. From then on the agent may have written anything, ``.git`` included, so the
daemon only reads the change out through the sandbox (``export_patch``) and deletes
the directory with plain file operations.

The checkout is a ``git clone --local --no-hardlinks`` of the mirror: objects are copied,
not shared, so it is self-contained (git works inside a sandbox that sees only the
workspace, at whatever path) and nothing the agent does to it reaches the mirror or
another run's workspace (hardlinked object files would be the same inodes).

Layout: ``<data>/workspaces/<run_id>/`` is the checkout; a failed run's kept workspace
has a ``<run_id>.kept`` file beside it holding its expiry (unix seconds), which
``sweep()`` honours.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import structlog

from factory.errors import GitError, WorkspaceError
from factory.workspace.gitutil import run_git
from factory.workspace.mirror import Mirror

log = structlog.get_logger(__name__)

_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_PULL_RE = re.compile(r"^refs/pull/(\d+)/head$")
KEPT_SUFFIX = ".kept"

AGENT_IDENTITY = {"user.name": "factory-agent", "user.email": "factory-agent@localhost"}
"""Written into each workspace's config so the agent's own ``git commit`` works."""


@dataclass(frozen=True)
class Workspace:
    """One run's own checkout of the target repository."""

    run_id: str
    path: Path
    ref: str
    """The full ref checked out, e.g. ``refs/heads/main`` or ``refs/pull/7/head``."""
    base_sha: str
    """The commit checked out; the exported patch is relative to it."""


def _branch_for(ref: str) -> str | None:
    if ref.startswith("refs/heads/"):
        return ref.removeprefix("refs/heads/")
    if m := _PULL_RE.match(ref):
        return f"pull/{m.group(1)}"
    return None


def _force_rmtree(path: Path) -> None:
    """Delete ``path`` without following symlinks, even where the agent removed permissions."""

    def on_error(func: Callable[..., object], p: str, _exc: object) -> None:
        parent = os.path.dirname(p)
        os.chmod(parent, stat.S_IRWXU)
        if os.path.isdir(p) and not os.path.islink(p):
            os.chmod(p, stat.S_IRWXU)
            shutil.rmtree(p, onerror=on_error)
        else:
            os.unlink(p)

    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, onerror=on_error)


class Workspaces:
    """Makes, releases and sweeps the per-run checkouts under ``<data_dir>/workspaces``."""

    def __init__(
        self,
        data_dir: Path,
        mirror: Mirror,
        *,
        keep_failed_for: float = 24 * 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Manage workspaces made from ``mirror``; failed ones are kept ``keep_failed_for`` s.

        Raises ValueError if ``keep_failed_for`` is negative.
        """
        if keep_failed_for < 0:
            raise ValueError(f"keep_failed_for must be >= 0 seconds, got {keep_failed_for}")
        self.root = Path(data_dir) / "workspaces"
        self.mirror = mirror
        self.keep_failed_for = keep_failed_for
        self._clock = clock

    def path_for(self, run_id: str) -> Path:
        """Return where run ``run_id``'s workspace lives. Raises ValueError on a bad id."""
        if not _RUN_ID_RE.match(run_id):
            raise ValueError(f"{run_id!r} is not a usable run id for a workspace")
        return self.root / run_id

    def prepare(
        self, run_id: str, ref: str | None = None, *, disk_mb: int | None = None
    ) -> Workspace:
        """Check out ``ref`` (``None``: the default branch) from the mirror for run ``run_id``.

        ``ref`` may be a branch name, a full ref such as ``refs/pull/7/head`` or a sha.
        ``disk_mb`` is not enforced by a full checkout (see ``factory.workspace.overlay``).
        Does not fetch: call ``mirror.fetch()`` first. Returns the new Workspace.
        Raises WorkspaceError if the ref is unknown, the workspace already exists or
        git fails; ValueError on a bad run id.
        """
        dest = self.path_for(run_id)
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            dest.mkdir()
        except FileExistsError:
            raise WorkspaceError(f"workspace of run {run_id} already exists at {dest}") from None
        try:
            # Resolved first, cloned second: a fetch in between cannot lose the commit
            # (fetch prunes refs, not objects), and the sha is what gets checked out.
            full_ref, sha = self.mirror.resolve(ref)
            with self.mirror.reading() as mirror_path:
                clone = ["clone", "--local", "--no-hardlinks", "--no-checkout", "--quiet"]
                run_git([*clone, "--", str(mirror_path), str(dest)])
            branch = _branch_for(full_ref)
            checkout = ["-B", branch, sha] if branch else ["--detach", sha]
            run_git(["checkout", "--quiet", *checkout], cwd=dest)
            for key, value in {
                **AGENT_IDENTITY,
                "remote.origin.url": self.mirror.remote_url,
            }.items():
                run_git(["config", key, value], cwd=dest)
        except (GitError, WorkspaceError) as exc:
            _force_rmtree(dest)
            if isinstance(exc, WorkspaceError):
                raise
            raise WorkspaceError(f"could not prepare workspace of run {run_id}: {exc}") from exc
        log.info("workspace_prepared", run_id=run_id, ref=full_ref, base_sha=sha)
        return Workspace(run_id=run_id, path=dest, ref=full_ref, base_sha=sha)

    def _marker(self, run_id: str) -> Path:
        return self.root / f"{run_id}{KEPT_SUFFIX}"

    def release(self, workspace: Workspace, *, failed: bool) -> None:
        """Delete the workspace now, or if ``failed`` keep it for ``keep_failed_for`` seconds.

        Never runs git. Raises OSError if the directory cannot be deleted.
        """
        run_id = workspace.run_id
        if failed and self.keep_failed_for > 0:
            expires_at = self._clock() + self.keep_failed_for
            self._marker(run_id).write_text(f"{expires_at:.3f}\n")
            log.info("workspace_kept", run_id=run_id, expires_at=expires_at)
            return
        self._remove(run_id)
        log.info("workspace_removed", run_id=run_id)

    def _remove(self, run_id: str) -> None:
        _force_rmtree(self.path_for(run_id))
        self._marker(run_id).unlink(missing_ok=True)

    def sweep(self, *, active_run_ids: Collection[str] | None = None) -> list[str]:
        """Delete kept workspaces whose time is up; return the run ids removed, sorted.

        If ``active_run_ids`` is given, workspaces that are neither kept nor active
        (left by a crash) are removed too. Never runs git.
        """
        if not self.root.is_dir():
            return []
        now = self._clock()
        removed: set[str] = set()
        for entry in sorted(self.root.iterdir()):
            run_id = entry.name.removesuffix(KEPT_SUFFIX)
            if not _RUN_ID_RE.match(run_id):
                continue
            if entry.name.endswith(KEPT_SUFFIX):
                try:
                    expired = float(entry.read_text().strip()) <= now
                except ValueError:
                    expired = True
                if expired:
                    self._remove(run_id)
                    removed.add(run_id)
            elif (
                active_run_ids is not None
                and run_id not in active_run_ids
                and not self._marker(run_id).exists()
            ):
                self._remove(run_id)
                removed.add(run_id)
        for run_id in sorted(removed):
            log.info("workspace_swept", run_id=run_id)
        return sorted(removed)
