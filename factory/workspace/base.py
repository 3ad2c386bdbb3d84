"""Read-only base checkouts, one per commit, shared by the overlays of many runs.

A base is made from the mirror once (``git clone --local --no-hardlinks``: a self-contained
``.git`` with no alternates into the mirror), checked out detached at its commit, with the
agent identity and the remote URL in its config and an index refreshed so that a first
``git status`` in an overlay over it writes nothing (copies nothing up). The daemon never
writes a base after it is made; runs see it only as the lower layer of their own overlay
(``factory.workspace.overlay``), never bound into a sandbox.

Layout under ``<data>/bases``: ``<sha>/`` the checkout; ``<sha>.users/<run_id>`` one empty
file per run (or kept-failed workspace) using it: the reference count, on disk, so it
survives a daemon restart. ``.lock`` serialises making and pruning bases. An unused base
is removed by ``prune`` unless it is one of the ``keep_unused`` newest.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

from factory.errors import GitError, WorkspaceError
from factory.workspace.gitutil import run_git
from factory.workspace.mirror import Mirror

log = structlog.get_logger(__name__)

_SHA_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
USERS_SUFFIX = ".users"
IDENTITY = {"user.name": "factory-agent", "user.email": "factory-agent@localhost"}
"""The agent's git identity, written into each base's config (as checkout.AGENT_IDENTITY)."""


class Bases:
    """Makes, counts and prunes the base checkouts under ``<data_dir>/bases``."""

    def __init__(self, data_dir: Path, mirror: Mirror, *, keep_unused: int = 2) -> None:
        """Bases of ``mirror``'s commits; ``keep_unused`` unused ones stay for reuse.

        Raises ValueError if ``keep_unused`` is negative.
        """
        if keep_unused < 0:
            raise ValueError(f"keep_unused must be >= 0, got {keep_unused}")
        self.root = Path(data_dir) / "bases"
        self.mirror = mirror
        self.keep_unused = keep_unused

    def path_for(self, sha: str) -> Path:
        """Return where the base of commit ``sha`` lives. Raises ValueError on a bad sha."""
        if not _SHA_RE.match(sha):
            raise ValueError(f"{sha!r} is not a commit sha")
        return self.root / sha

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def acquire(self, sha: str, user: str) -> Path:
        """Count ``user`` (a run id) as a user of the base of ``sha``, making it if missing.

        Returns the base's path. Raises WorkspaceError if git fails.
        """
        base = self.path_for(sha)
        with self._locked():
            if not (base / ".git" / "HEAD").is_file():
                self._make(sha, base)
            users = self.root / f"{sha}{USERS_SUFFIX}"
            users.mkdir(exist_ok=True)
            (users / user).touch()
        return base

    def release(self, user: str) -> None:
        """Stop counting ``user`` as a user of any base (idempotent). Never runs git."""
        for mark in self.root.glob(f"*{USERS_SUFFIX}/{user}"):
            mark.unlink(missing_ok=True)

    def users(self, sha: str) -> list[str]:
        """Return the run ids using the base of ``sha``, sorted."""
        folder = self.root / f"{self.path_for(sha).name}{USERS_SUFFIX}"
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def prune(self) -> list[str]:
        """Remove unused bases but the ``keep_unused`` newest; return the shas removed."""
        if not self.root.is_dir():
            return []
        removed = []
        with self._locked():
            unused = [
                p
                for p in self.root.iterdir()
                if p.is_dir() and _SHA_RE.match(p.name) and not self.users(p.name)
            ]
            unused.sort(key=lambda p: p.stat().st_mtime, reverse=True)
            for base in unused[self.keep_unused :]:
                shutil.rmtree(base, ignore_errors=True)
                shutil.rmtree(self.root / f"{base.name}{USERS_SUFFIX}", ignore_errors=True)
                removed.append(base.name)
        for sha in removed:
            log.info("base_removed", sha=sha)
        return sorted(removed)

    def _make(self, sha: str, base: Path) -> None:
        for stale in self.root.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{sha[:12]}-", dir=self.root))
        dest = tmp / "b"
        try:
            with self.mirror.reading() as mirror_path:
                clone = ["clone", "--local", "--no-hardlinks", "--no-checkout", "--quiet"]
                run_git([*clone, "--", str(mirror_path), str(dest)])
            run_git(["checkout", "--quiet", "--detach", sha], cwd=dest)
            for key, value in {**IDENTITY, "remote.origin.url": self.mirror.remote_url}.items():
                run_git(["config", key, value], cwd=dest)
            _settle_index(dest)
            dest.rename(base)
        except GitError as exc:
            raise WorkspaceError(f"could not make the base checkout of {sha}: {exc}") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        log.info("base_made", sha=sha)


def _settle_index(repo: Path) -> None:
    """Make the index strictly newer than every file it lists, then refresh it.

    Git re-reads ("racily clean") entries whose mtime is not older than the index file and
    would then rewrite the index: in an overlay that is a copy-up on the first ``git status``.
    Waiting past the newest mtime's second and refreshing rules it out.
    """
    newest = max(
        (os.lstat(os.path.join(d, n)).st_mtime for d, _, names in os.walk(repo) for n in names),
        default=0.0,
    )
    delay = int(newest) + 1 - time.time()
    if delay > 0:
        time.sleep(delay)
    run_git(["update-index", "--really-refresh", "-q"], cwd=repo, check=False)
    index = repo / ".git" / "index"
    if index.exists():
        now = time.time()
        os.utime(index, (now, now))
