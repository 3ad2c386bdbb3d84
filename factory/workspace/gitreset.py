"""Before a patch export: the overlay's ``.git`` put back to what the daemon made.

After the session the agent may have written anything into ``.git``: truncated or deleted
object files and packs, a garbage ``HEAD``, refs or ``packed-refs``, an ``alternates`` file,
``config`` (``core.worktree``, includes, filters), hooks, ``info/exclude`` hiding new files.
The patch is the diff of the working tree against the base commit, so none of that may
matter. An overlay workspace makes this cheap: everything the agent wrote is in its layer's
``upper/``, and the base below is read-only and authoritative (object files are named by
content). ``snapshot`` keeps a copy of ``upper/.git`` right after ``prepare`` (a branch's
``HEAD`` and one ref; a pull request's fetched objects) in ``<layer>/git``; ``reset``
unmounts the overlay, replaces ``upper/.git`` (whatever type it became: whiteout, opaque
directory, file, symlink) with that copy and mounts the overlay again. The agent's
working-tree files are untouched; only its ``.git`` edits are dropped.

A full checkout (a non-root daemon) has no layer: ``reset`` leaves it alone and a wrecked
``.git`` still fails the export loudly.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import structlog

from factory.errors import WorkspaceError
from factory.workspace.diskcap import mount_overlay, unmount

log = structlog.get_logger(__name__)

SNAPSHOT = "git"
"""``<layer>/git``: the daemon's own ``upper/.git`` as ``prepare`` left it."""
_OPAQUE = "trusted.overlay.opaque"


@dataclass(frozen=True)
class OverlayMount:
    """The directories of one mounted overlay, read from ``/proc/self/mountinfo``."""

    lower: Path
    upper: Path
    work: Path


def snapshot(layer: Path) -> None:
    """Copy ``<layer>/upper/.git`` to ``<layer>/git`` (an empty folder if there is none).

    Raises OSError (e.g. ENOSPC on the layer's tmpfs).
    """
    dest = layer / SNAPSHOT
    source = layer / "upper" / ".git"
    if source.is_dir() and not source.is_symlink():
        _copy(source, dest)
    else:
        dest.mkdir()


def resnapshot(path: Path) -> bool:
    """Take the snapshot of the overlay workspace at ``path`` again, after the daemon itself
    changed its ``.git`` (a conflicted merge's commit: ``factory.workspace.merge_workspace``).

    Returns False (changing nothing) when ``path`` is no overlay. Raises OSError.
    """
    mount = overlay_at(path)
    if mount is None:
        return False
    layer = mount.upper.parent
    _remove(layer / SNAPSHOT)
    snapshot(layer)
    return True


def overlay_at(path: Path) -> OverlayMount | None:
    """Return the overlay mounted at ``path``, or None when none is."""
    target = os.path.realpath(path)
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    found: OverlayMount | None = None
    for line in lines:
        fields, _, tail = line.partition(" - ")
        parts, extra = fields.split(), tail.split()
        if len(parts) < 5 or len(extra) < 3 or _unescape(parts[4]) != target:
            continue
        options = dict(o.partition("=")[::2] for o in extra[2].split(","))
        found = None  # a later mount on the same point hides an earlier one
        if extra[0] == "overlay" and {"lowerdir", "upperdir", "workdir"} <= options.keys():
            found = OverlayMount(
                lower=Path(_unescape(options["lowerdir"])),
                upper=Path(_unescape(options["upperdir"])),
                work=Path(_unescape(options["workdir"])),
            )
    return found


def reset(path: Path, run_id: str) -> bool:
    """Put the ``.git`` of the overlay workspace at ``path`` back to its snapshot.

    Returns False (changing nothing) when ``path`` is no overlay or has no snapshot.
    The overlay is mounted again even when the swap fails. Raises WorkspaceError.
    """
    mount = overlay_at(path)
    if mount is None:
        return False
    saved = mount.upper.parent / SNAPSHOT
    if not saved.is_dir():
        log.warning("workspace_git_unsnapshotted", run_id=run_id)
        return False
    try:
        unmount(path)
        try:
            _remove(mount.upper / ".git")
            _copy(saved, mount.upper / ".git")
        finally:
            mount_overlay(mount.lower, mount.upper, mount.work, path)
    except OSError as exc:
        raise WorkspaceError(f"could not reset the .git of run {run_id}: {exc}") from exc
    log.info("workspace_git_reset", run_id=run_id)
    return True


def _unescape(text: str) -> str:
    """Undo mountinfo's octal escapes (space, tab, newline, backslash)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        text = text.replace(code, char)
    return text


def _remove(path: Path) -> None:
    """Delete ``path`` whatever it is (directory, file, symlink, whiteout), never following."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        path.unlink()
        return

    def on_error(_func: object, p: str, _exc: object) -> None:
        os.chmod(os.path.dirname(p), stat.S_IRWXU)
        if os.path.isdir(p) and not os.path.islink(p):
            os.chmod(p, stat.S_IRWXU)
            shutil.rmtree(p, onerror=on_error)
        else:
            os.unlink(p)

    os.chmod(path, stat.S_IRWXU)
    shutil.rmtree(path, onerror=on_error)


def _copy(source: Path, dest: Path) -> None:
    """Copy an overlay upper subtree: files, symlinks, whiteouts (0/0 character devices),
    directories with their opaque mark; modes kept."""
    st = source.lstat()
    if stat.S_ISDIR(st.st_mode):
        dest.mkdir(mode=0o700)
        for entry in sorted(os.listdir(source)):
            _copy(source / entry, dest / entry)
        try:
            opaque = os.getxattr(source, _OPAQUE)
        except OSError:
            opaque = None  # not opaque: nothing to carry
        if opaque is not None:
            os.setxattr(dest, _OPAQUE, opaque)
        os.chmod(dest, stat.S_IMODE(st.st_mode))
    elif stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(source), dest)
    elif stat.S_ISCHR(st.st_mode):
        os.mknod(dest, st.st_mode, st.st_rdev)
    else:
        shutil.copyfile(source, dest, follow_symlinks=False)
        os.chmod(dest, stat.S_IMODE(st.st_mode))
