"""A pids cgroup per run (or per lone command), for a daemon running as root.

Why: RLIMIT_NPROC is not enforced for uid 0, so a root daemon cannot contain a fork bomb with
rlimits alone. Root can write cgroups (v1 ``pids`` hierarchy or cgroup v2 with the ``pids``
controller), so commands run in a leaf cgroup with ``pids.max``; the command enters it
through a tiny ``sh`` wrapper before ``exec bwrap`` (no ``preexec_fn`` in a threaded daemon).
A run's commands share one cgroup, made when the run opens and removed when it closes
(making and removing one per command cost more than the rest of the command's start-up);
``pids.max`` is set again for each command, and the cgroup is drained before each one so
the tasks of the previous command never count against the next. ``sweep_stale`` removes the
cgroups of a daemon that was killed before it could.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import signal
import time
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

_counter = itertools.count(1)
BASE_NAME = "factoryd-sandbox"
"""The directory under the pids hierarchy's root that holds the per-command cgroups."""


def find_pids_root(mountinfo: Path = Path("/proc/self/mountinfo")) -> Path | None:
    """Return a writable directory where pids cgroups can be made, or None if there is none."""
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        pre, _, post = line.partition(" - ")
        fields, post_fields = pre.split(), post.split()
        if len(fields) < 5 or len(post_fields) < 3:
            continue
        mount_point, fstype, options = Path(fields[4]), post_fields[0], post_fields[2]
        v1_pids = fstype == "cgroup" and "pids" in options.split(",")
        if v1_pids or (fstype == "cgroup2" and _v2_has_pids(mount_point)):
            candidate = mount_point
        else:
            continue
        base = candidate / BASE_NAME
        try:
            base.mkdir(exist_ok=True)
        except OSError:
            continue
        if fstype == "cgroup2":
            with contextlib.suppress(OSError):
                (candidate / "cgroup.subtree_control").write_text("+pids")
            with contextlib.suppress(OSError):
                (base / "cgroup.subtree_control").write_text("+pids")
        if os.access(base, os.W_OK):
            return base
    return None


def _v2_has_pids(mount_point: Path) -> bool:
    try:
        return "pids" in (mount_point / "cgroup.controllers").read_text().split()
    except OSError:
        return False


class PidsCgroup:
    """One leaf cgroup holding one command's processes, at most ``max_pids`` of them."""

    def __init__(self, base: Path, max_pids: int) -> None:
        """Create the cgroup. Raises OSError if it cannot be created or limited."""
        # A random part too: a daemon killed with -9 leaves its cgroups behind, and a new
        # daemon may get the same pid.
        self.path = base / f"run-{os.getpid()}-{next(_counter)}-{secrets.token_hex(4)}"
        self.path.mkdir()
        try:
            (self.path / "pids.max").write_text(str(max_pids))
        except OSError:
            self.path.rmdir()
            raise

    @classmethod
    def adopt(cls, path: Path) -> PidsCgroup:
        """Return a handle on an existing cgroup directory ``path`` (to drain or remove it)."""
        cgroup = cls.__new__(cls)
        cgroup.path = path
        return cgroup

    def set_max(self, max_pids: int) -> None:
        """Limit the cgroup to ``max_pids`` tasks from now on. Raises OSError on failure."""
        (self.path / "pids.max").write_text(str(max_pids))

    def drain(self, within_s: float = 2.0) -> bool:
        """Kill what is left in the cgroup and wait until it is empty; return whether it is."""
        end = time.monotonic() + within_s
        # pids.current, not cgroup.procs: a task that has exited but is not yet reaped is no
        # longer listed, yet still counts against pids.max.
        while self._pids() or self._current() > 0:
            self.kill()
            if time.monotonic() >= end:
                return False
            time.sleep(0.002)
        return True

    def _current(self) -> int:
        try:
            return int((self.path / "pids.current").read_text())
        except (OSError, ValueError):
            return 0

    def wrap(self, argv: list[str]) -> list[str]:
        """Return ``argv`` prefixed by a shell that moves itself into this cgroup, then execs."""
        script = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
        return ["/bin/sh", "-c", script, str(self.path), *argv]

    def kill(self) -> None:
        """SIGKILL every process in the cgroup (pids.max stops them from outrunning this)."""
        kill_file = self.path / "cgroup.kill"
        if kill_file.exists():
            with contextlib.suppress(OSError):
                kill_file.write_text("1")
                return
        for _ in range(100):
            pids = self._pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        """Kill what is left and remove the cgroup; logs (does not raise) if it stays."""
        self.kill()
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)  # killed tasks take a moment to leave the cgroup
        log.warning("sandbox_cgroup_left_behind", path=str(self.path))

    def _pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []


def sweep_stale(base: Path) -> list[Path]:
    """Remove the cgroups under ``base`` whose daemon process is gone; return those removed."""
    removed = []
    for path in base.glob("run-*"):
        pid_part = path.name.split("-")[1]
        if not pid_part.isdigit() or _alive(int(pid_part)):
            continue
        PidsCgroup.adopt(path).remove()
        if not path.exists():
            removed.append(path)
    if removed:
        log.info("sandbox_cgroups_swept", count=len(removed))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
