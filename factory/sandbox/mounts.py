"""The mount calls behind per-run disk caps: a size-capped tmpfs, an overlay, unmount.

Calls go straight to ``mount(2)``/``umount2(2)``: no process per mount. Mounting needs root
(CAP_SYS_ADMIN); ``can_mount()`` says whether we have it. ``factory.workspace.diskcap``
re-exports these for the overlay workspaces; ``capped_workspace`` is what
``factoryd sandbox exec --disk`` runs a command in.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from factory.errors import SandboxUnavailable

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
MS_NOSUID = 2
MS_NODEV = 4
MNT_DETACH = 2
EINVAL = 22
MIB = 1024 * 1024
INODES_PER_MB = 64
MIN_INODES = 16384


def can_mount() -> bool:
    """Return True if this process may mount filesystems (it runs as root)."""
    return os.geteuid() == 0


def _mount(source: str, target: Path, fstype: str, options: str) -> None:
    flags = MS_NOSUID | MS_NODEV
    rc = _libc.mount(
        source.encode(), str(target).encode(), fstype.encode(), flags, options.encode()
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount -t {fstype} on {target}: {os.strerror(err)}")


def mount_tmpfs(target: Path, size_mb: int) -> None:
    """Mount a tmpfs of ``size_mb`` MiB at ``target`` (mode 0700). Raises OSError.

    Its inodes are capped too (``INODES_PER_MB`` per MiB): each costs memory that ``size=``
    does not count, so a flood of empty files is bounded as well.
    """
    if size_mb <= 0:
        raise ValueError(f"size_mb must be positive, got {size_mb}")
    inodes = max(size_mb * INODES_PER_MB, MIN_INODES)
    _mount("factoryd-layer", target, "tmpfs", f"size={size_mb * MIB},nr_inodes={inodes},mode=0700")


def mount_overlay(lower: Path, upper: Path, work: Path, target: Path) -> None:
    """Mount an overlay of ``upper`` over read-only ``lower`` at ``target``. Raises OSError."""
    for path in (lower, upper, work):
        if "," in str(path) or ":" in str(path):
            raise ValueError(f"{str(path)!r} cannot be named in overlay mount options")
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    _mount("factoryd-overlay", target, "overlay", options)


def unmount(target: Path) -> bool:
    """Unmount ``target`` (lazily if busy); return False if nothing was mounted there.

    Raises OSError for another failure.
    """
    if not os.path.ismount(target):
        return False
    if _libc.umount2(str(target).encode(), 0) == 0:
        return True
    if _libc.umount2(str(target).encode(), MNT_DETACH) == 0:  # busy: detach now, free later
        return True
    err = ctypes.get_errno()
    if err == EINVAL:
        return False
    raise OSError(err, f"umount {target}: {os.strerror(err)}")


@contextmanager
def capped_workspace(disk_mb: int, workspace: Path | None = None) -> Iterator[Path]:
    """Yield a folder on a fresh tmpfs of ``disk_mb`` MiB; unmount and delete it after.

    With ``workspace`` the folder is an overlay showing its files, whose writes land on the
    tmpfs and are discarded afterwards: the host folder is never changed. Raises
    SandboxUnavailable when this process may not mount (not root), OSError if a mount fails.
    """
    if not can_mount():
        raise SandboxUnavailable("a disk cap mounts a tmpfs, which needs root; run as root")
    root = Path(tempfile.mkdtemp(prefix="factoryd-disk-"))
    layer, merged = root / "layer", root / "ws"
    try:
        layer.mkdir()
        mount_tmpfs(layer, disk_mb)
        if workspace is None:
            yield layer
            return
        (layer / "upper").mkdir()
        (layer / "work").mkdir()
        merged.mkdir()
        mount_overlay(workspace, layer / "upper", layer / "work", merged)
        yield merged
    finally:
        unmount(merged)
        unmount(layer)
        shutil.rmtree(root, ignore_errors=True)
