"""Pids cgroups for a daemon running as root: one per run, one leaf in it per command.

Why: RLIMIT_NPROC is not enforced for uid 0, so a root daemon cannot contain a fork bomb with
rlimits alone. Root can write cgroups (v1 ``pids`` hierarchy or cgroup v2 with the ``pids``
controller), so commands run in a leaf cgroup with ``pids.max``; the command's first process
is moved into it before it execs bwrap (``spares.py``: ahead of time when it can, because the
move waits for an RCU grace period, 6-20 ms).
A run's cgroup is made when the run opens and removed (with whatever is left in it) when it
closes; each command gets a leaf inside it with its own ``pids.max`` (a command outside any
run gets a cgroup of its own directly under the base). Why not one reused cgroup: the kernel
uncharges a finished sandbox's tasks only a moment later (seen: one more stale charge after
each bwrap, gone after one to three seconds), so a reused cgroup would charge one command
for the last one's dead tasks, or, given credit for them, let it exceed its own limit. A leaf
costs a mkdir and an rmdir (about 0.2 ms). A spare's leaf is named ``spare-...`` until a
command takes it (then ``run-...`` like every command's leaf).
``sweep_stale`` removes the cgroups of a daemon that was killed before it could.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import select
import signal
import time
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

_counter = itertools.count(1)
PREFIXES = ("run", "spare")
"""Names of our cgroups start with one of these: a run's or a command's; a waiting spare's."""
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

    def __init__(
        self, base: Path, max_pids: int | None, *, leaf: bool = True, prefix: str = "run"
    ) -> None:
        """Create the cgroup under ``base``, at most ``max_pids`` tasks (None: no own limit).

        ``leaf=False`` makes a run's cgroup, which holds leaves (on cgroup v2 the pids
        controller is enabled for them); ``prefix``: ``run`` or ``spare`` (``PREFIXES``).
        Raises OSError if it cannot be made or limited.
        """
        # A random part too: a daemon killed with -9 leaves its cgroups behind, and a new
        # daemon may get the same pid.
        self.name = f"{os.getpid()}-{next(_counter)}-{secrets.token_hex(4)}"
        self.path = base / f"{prefix}-{self.name}"
        self.path.mkdir()
        try:
            if max_pids is not None:
                (self.path / "pids.max").write_text(str(max_pids))
            if not leaf and (self.path / "cgroup.subtree_control").exists():
                (self.path / "cgroup.subtree_control").write_text("+pids")
        except OSError:
            self.path.rmdir()
            raise

    @classmethod
    def adopt(cls, path: Path) -> PidsCgroup:
        """Return a handle on an existing cgroup directory ``path`` (to drain or remove it)."""
        cgroup = cls.__new__(cls)
        cgroup.path, cgroup.name = path, path.name.partition("-")[2]
        return cgroup

    def limit(self, max_pids: int) -> None:
        """Allow at most ``max_pids`` tasks from now on. Raises OSError."""
        (self.path / "pids.max").write_text(str(max_pids))

    def rename(self, prefix: str) -> None:
        """Rename the cgroup to ``prefix``-its name (cgroup v1 only). Raises OSError."""
        target = self.path.with_name(f"{prefix}-{self.name}")
        self.path.rename(target)
        self.path = target

    def kill(self) -> None:
        """SIGKILL every process in the cgroup (pids.max stops them from outrunning this)."""
        for fd in self._signal_all({}).values():
            os.close(fd)

    def _signal_all(self, killed: dict[int, int]) -> dict[int, int]:
        """SIGKILL each task listed that is not in ``killed`` (pid: its pidfd), until no new
        one appears; return ``killed`` with them added (the caller closes the pidfds).

        Through a pidfd, so a pid reused meanwhile is never signalled; cgroup v2 kills all
        at once (``cgroup.kill``)."""
        kill_file = self.path / "cgroup.kill"
        if kill_file.exists():
            with contextlib.suppress(OSError):
                kill_file.write_text("1")
                return killed
        for _ in range(100):
            new = [pid for pid in self._pids() if pid not in killed]
            if not new:
                break
            for pid in new:
                try:
                    fd = os.pidfd_open(pid)
                except ProcessLookupError:  # gone already
                    continue
                except OSError:  # no pidfds here (Linux < 5.3): by pid, as often as listed
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    continue
                killed[pid] = fd
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
        return killed

    def remove(self) -> None:
        """Kill what is left, remove the leaves in it, then the cgroup; logs if it stays.

        A cgroup another thread removed first (``close_run`` while a command's own
        ``remove`` runs) is already done: nothing here raises for a missing directory.
        Killed tasks are awaited on their pidfds (a finished sandbox's init is often still
        tearing its namespaces down: a few ms), not by reading the task list in a loop.
        """
        try:  # empty (a finished command's leaf, as a rule): nothing to kill or list
            self.path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            pass
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return
        for name in names:
            child = self.path / name
            if name.partition("-")[0] in PREFIXES and child.is_dir():
                PidsCgroup.adopt(child).remove()
        killed: dict[int, int] = {}
        end = time.monotonic() + 1.0
        try:
            while True:
                killed = self._signal_all(killed)
                _await_exit(list(killed.values()), end)
                try:
                    self.path.rmdir()
                    return
                except FileNotFoundError:
                    return
                except OSError:
                    if time.monotonic() >= end:
                        break
                    time.sleep(0.002)  # killed tasks take a moment to leave the cgroup
        finally:
            for fd in killed.values():
                os.close(fd)
        log.warning("sandbox_cgroup_left_behind", path=str(self.path))

    def _pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []


def _await_exit(pidfds: list[int], end: float) -> None:
    """Wait until each process of ``pidfds`` has exited, or the monotonic time ``end``."""
    poller = select.poll()
    for fd in pidfds:
        poller.register(fd, select.POLLIN)
    waiting = len(pidfds)
    while waiting:
        left_ms = (end - time.monotonic()) * 1000
        if left_ms <= 0:
            return
        for fd, _ in poller.poll(left_ms):
            poller.unregister(fd)
            waiting -= 1


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
