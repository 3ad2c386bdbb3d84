"""Mounts for per-run layers, and the data directory's free-space reserve.

A run's writable layer (the overlay's upper and work dirs) lives on its own ``tmpfs`` with
``size=`` the run's disk cap: a write past it is ENOSPC inside the sandbox and the host
disk is never touched. Measured on this project's machine: a tmpfs mount costs ~1 ms, a
loop-mounted ext4 image ~90 ms of mkfs plus ~170 ms to mount and unmount, so tmpfs is the
choice; its price is that the layer is memory-backed (swap-backed where swap exists) and does
not survive a reboot. Mounting needs root (CAP_SYS_ADMIN); ``can_mount()`` says whether we
have it. Calls go straight to ``mount(2)``/``umount2(2)``: no process per mount.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class DiskState:
    """Free space of the data directory against its reserve."""

    free_bytes: int
    reserve_bytes: int

    @property
    def waiting(self) -> bool:
        """True when free space is below the reserve: new runs wait instead of starting."""
        return self.free_bytes < self.reserve_bytes

    def report(self) -> dict[str, object]:
        """Return this as the ``disk`` entry of ``/healthz``."""
        return {
            "free_bytes": self.free_bytes,
            "reserve_bytes": self.reserve_bytes,
            "runs_waiting_for_disk": self.waiting,
        }


def disk_state(data_dir: Path, reserve_mb: int, percent: float = 100.0) -> DiskState:
    """Return the free space of the filesystem holding ``data_dir`` and its reserve:
    ``reserve_mb`` MiB, but at most ``percent`` of the filesystem's size.

    Raises OSError if ``data_dir`` (or, when it does not exist yet, its parent) is unreadable.
    """
    path = Path(data_dir)
    while not path.exists() and path != path.parent:
        path = path.parent
    usage = shutil.disk_usage(path)
    reserve = min(reserve_mb * MIB, int(usage.total * percent / 100))
    return DiskState(free_bytes=usage.free, reserve_bytes=reserve)
