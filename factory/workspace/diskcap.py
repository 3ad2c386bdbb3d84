"""Mounts for per-run layers, and the data directory's free-space reserve.

A run's writable layer (the overlay's upper and work dirs) lives on its own ``tmpfs`` with
``size=`` the run's disk cap: a write past it is ENOSPC inside the sandbox and the host
disk is never touched. Measured on this project's machine: a tmpfs mount costs ~1 ms, a
loop-mounted ext4 image ~90 ms of mkfs plus ~170 ms to mount and unmount, so tmpfs is the
choice; its price is that the layer is memory-backed (swap-backed where swap exists) and does
not survive a reboot. Mounting needs root (CAP_SYS_ADMIN); ``can_mount()`` says whether we
have it. The mount calls live in ``factory.sandbox.mounts`` (``factoryd sandbox exec
--disk`` uses them too) and are re-exported here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from factory.sandbox.mounts import MIB, can_mount, mount_overlay, mount_tmpfs, unmount

__all__ = ["DiskState", "can_mount", "disk_state", "mount_overlay", "mount_tmpfs", "unmount"]


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
