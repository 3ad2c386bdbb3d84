"""A root daemon's commands start already in their pids cgroup: a spare waits in each run.

Why: moving a process into a cgroup (a write to ``cgroup.procs``) waits for an RCU grace
period in the kernel (the cgroup threadgroup rwsem's writer side): 6-20 ms here, a second
move right after costs 0.1 ms. That wait, not the ``sh`` that did the write, was most of a
root daemon's per-command overhead. It cannot be skipped (a command's tasks must be in its
own limited cgroup before it can fork), but it need not be on the command's path: a *spare*
is a process started and moved into a fresh leaf of the run's cgroup ahead of time, in the
background, blocked on a pipe. A command takes it, sets the leaf's ``pids.max``, hands it
its full argv (the bwrap command line) and the spare execs it: every task of the sandbox is
born in the leaf. The next spare is made in the background (one worker thread for all runs)
when the command has ended (not while it runs, so that it does not compete with it for the
CPU).

The spare is ``bash`` running a builtin-only trampoline: it waits for one byte on a *go* pipe,
reads the NUL-separated argv from a memfd (a seekable file, so bash reads it in blocks; from
a pipe it read one byte per syscall), sets the command's limits with ``ulimit`` (address
space, core size, processes; soft and hard, so nothing inside can raise them) and ``exec``s
the command's bwrap: no fork, so nothing escapes the leaf, and no ``prlimit`` exec inside the
sandbox (the largest piece of a command's start-up after bwrap itself: about 0.2x a minimal
bwrap; RLIMIT_NPROC does not bind root inside the sandbox or out, the pids cgroup does).
The argv is complete before the go byte is written: if the daemon dies, the go pipe reads
EOF and bash exits 0 without running anything, never a partial argv. Commands with stdin,
outside a run, or arriving before the spare is ready, make one on the spot
(``command_spare``) and pay the wait.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

import structlog

from factory.interfaces import SandboxLimits
from factory.sandbox.cgroup import PidsCgroup

log = structlog.get_logger(__name__)

BASH = "/bin/bash"
"""The trampoline's shell (bash >= 4.4 for ``mapfile -d``); essential on Debian."""
TRAMPOLINE = (
    'read -r -N 1 _ <&{go} || exit 0; exec {go}<&-; mapfile -d "" -t argv <&{args}; '
    'exec {args}<&- && ulimit -v "${{argv[0]}}" -c 0 -u "${{argv[1]}}" && exec "${{argv[@]:2}}"'
)
"""The spare's script: wait for go, read [address space KiB, processes, argv...], limit, exec."""


class Spare:
    """One process in its own leaf cgroup, waiting for the argv it will exec."""

    def __init__(self, base: Path, *, max_pids: int | None = None, stdin: bool = False) -> None:
        """Start the trampoline (cwd ``/``) in a new cgroup under ``base``.

        Not in the workspace: a spare waiting there would keep its mount busy (bwrap binds
        the workspace by its absolute path and chdirs inside the sandbox).

        ``max_pids``: made for a command now (a ``run-`` cgroup with that limit), else a
        ``spare-`` cgroup that ``release`` renames and limits. ``stdin``: give it a stdin
        pipe (else /dev/null). Raises OSError if it cannot be started or moved into the
        cgroup (nothing is left behind then).
        """
        self._waiting = max_pids is None
        self.cgroup = PidsCgroup(base, max_pids, prefix="spare" if self._waiting else "run")
        # _args: the pipe that says go (the argv is then complete in _memfd); the daemon's
        # end closing unwritten (it died) ends the spare.
        read_fd, self._args = os.pipe()
        self._memfd = os.memfd_create("factoryd-argv")
        script = TRAMPOLINE.format(go=read_fd, args=self._memfd)
        try:
            self.proc = subprocess.Popen(
                [BASH, "-c", script],
                cwd="/",
                env={},
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
                pass_fds=(read_fd, self._memfd),
            )
        except OSError:
            self._close_fds()
            self.cgroup.remove()
            raise
        finally:
            os.close(read_fd)
        try:
            (self.cgroup.path / "cgroup.procs").write_text(str(self.proc.pid))
        except OSError:
            self.discard()
            raise

    def release(self, argv: Sequence[str], max_pids: int, limits: SandboxLimits) -> None:
        """Name the cgroup a command's and limit it to ``max_pids`` tasks; let it exec ``argv``
        under the address-space, core (0) and process limits of ``limits``.

        Raises OSError if the cgroup cannot be renamed or limited, or the argv not written
        (the spare is discarded).
        """
        try:
            if self._waiting:
                self.cgroup.rename("run")
                self._waiting = False
            self.cgroup.limit(max_pids)
            head = [str(limits.memory_mb * 1024), str(limits.max_processes)]
            data = b"".join(os.fsencode(arg) + b"\0" for arg in [*head, *argv])
            done = 0
            while done < len(data):
                done += os.pwrite(self._memfd, data[done:], done)  # the offset bash reads from: 0
        except OSError:
            self.discard()
            raise
        try:
            with contextlib.suppress(BrokenPipeError):  # it died: its exit status says so
                os.write(self._args, b"g")
        finally:
            self._close_fds()

    def _close_fds(self) -> None:
        for fd in (self._args, self._memfd):
            if fd >= 0:
                os.close(fd)
        self._args = self._memfd = -1

    def discard(self) -> None:
        """Kill the spare (if it still waits) and remove its cgroup."""
        self._close_fds()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.communicate()
        self.cgroup.remove()


class RunSpares:
    """At most one ready spare per open run, made in the background; safe from many threads.

    One worker thread makes them (started with the first run, ended when no run is open): a
    command's ``refill`` only queues its run and wakes it, instead of starting a thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._ready: dict[Path, Spare] = {}
        self._open: dict[Path, Path] = {}
        self._wanted: list[Path] = []
        self._making: set[Path] = set()
        self._worker: threading.Thread | None = None

    def open(self, workspace: Path, run_cgroup: Path) -> None:
        """Keep a spare ready for the run over ``workspace`` (cgroup ``run_cgroup``)."""
        with self._lock:
            self._open[workspace] = run_cgroup
        self.refill(workspace)

    def take(self, workspace: Path) -> Spare | None:
        """Return the run's ready spare, or None if none is (``refill`` makes the next)."""
        with self._lock:
            return self._ready.pop(workspace, None)

    def refill(self, workspace: Path) -> None:
        """Have the worker make a spare for the run over ``workspace`` in the background.

        No-op if no run over it is open, or it has a spare ready, asked for or being made."""
        with self._lock:
            if workspace not in self._open or workspace in self._ready:
                return
            if workspace in self._making or workspace in self._wanted:
                return
            self._wanted.append(workspace)
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="sandbox-spares", daemon=True
                )
                self._worker.start()
            else:
                self._lock.notify_all()

    def close(self, workspace: Path) -> None:
        """Stop keeping spares for the run over ``workspace``; discard the ready one.

        Waits for a spare being made, so that none is left in the run's cgroup after this.
        """
        with self._lock:
            self._open.pop(workspace, None)
            if workspace in self._wanted:
                self._wanted.remove(workspace)
            self._lock.notify_all()  # the worker ends if no run is left
            while workspace in self._making:
                self._lock.wait()
            spare = self._ready.pop(workspace, None)
        if spare is not None:
            spare.discard()

    def _work(self) -> None:
        """Make the spares asked for, one at a time, while any run is open."""
        with self._lock:
            try:
                while self._open:
                    if not self._wanted:
                        self._lock.wait()
                        continue
                    workspace = self._wanted.pop(0)
                    self._making.add(workspace)
                    self._lock.release()
                    try:
                        self._make(workspace)
                    finally:
                        self._lock.acquire()
                        self._making.discard(workspace)
                        self._lock.notify_all()
            finally:
                self._worker = None  # the next refill starts another

    def _make(self, workspace: Path) -> None:
        with self._lock:
            base = self._open.get(workspace)
            busy = workspace in self._ready
        if base is None or busy:
            return
        try:
            spare = Spare(base)
        except OSError as exc:  # the command will make its own; it reports what fails
            log.warning("sandbox_spare_failed", error=str(exc))
            return
        with self._lock:
            keep = self._open.get(workspace) == base and workspace not in self._ready
            if keep:
                self._ready[workspace] = spare
        if not keep:
            spare.discard()


def command_spare(
    base: Path, spares: RunSpares | None, workspace: Path, max_pids: int, stdin: bool
) -> Spare:
    """Return a spare for one command: the run's ready one, else one made now under ``base``.

    A command with ``stdin`` always gets a new one (with a stdin pipe). Raises OSError.
    """
    spare = spares.take(workspace) if spares is not None and not stdin else None
    return spare or Spare(base, max_pids=max_pids, stdin=stdin)
