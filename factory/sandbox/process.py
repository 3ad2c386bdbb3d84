"""Running one child process with a wall timeout and an output cap, and killing it.

Every command runs in its own session (process group), so killing the group kills what it
forked unless a child started its own session. For bubblewrap that is enough: killing
``bwrap`` takes down the sandbox's pid namespace (``--die-with-parent``: its pid 1 dies, and
the kernel kills every process in a namespace whose pid 1 died).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from factory.interfaces import ExecResult, SandboxLimits

EXIT_GRACE_S = 0.5
"""How long to keep reading after the command exited, while orphans still hold its pipes."""


@dataclass
class _Live:
    """One running child and why we killed it, if we did."""

    proc: subprocess.Popen[bytes]
    killed_reason: str | None = None
    on_kill: list[Callable[[], None]] = field(default_factory=list)


class ProcessTable:
    """The live child processes of one sandbox instance; safe to use from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[int] = set()
        self._entries: dict[int, _Live] = {}

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        limits: SandboxLimits,
        stdin: bytes | None = None,
        user: int | None = None,
        group: int | None = None,
        on_kill: Callable[[], None] | None = None,
        started: tuple[subprocess.Popen[bytes], Callable[[], None]] | None = None,
    ) -> ExecResult:
        """Run ``argv`` to completion, the timeout or the output cap; return what it did.

        ``on_kill`` runs (once per kill) after the process group is killed, to reach
        processes outside it. ``started``: a process already started in its own session,
        with pipes for stdout and stderr (and stdin if ``stdin`` is given), waiting for its
        release function to let it run ``argv``; used instead of starting one. Raises
        OSError if the program cannot be started or released.
        """
        start = time.monotonic()
        if started is not None:
            proc, release = started
        else:
            proc, release = self._popen(argv, cwd, env, stdin, user, group), None
        live = _Live(proc, on_kill=[on_kill] if on_kill else [])
        with self._lock:
            self._entries[proc.pid] = live
        try:
            if release is not None:
                release()
            out, err = self._pump(live, stdin, limits, start)
            proc.wait()
        finally:
            with self._lock:
                self._entries.pop(proc.pid, None)
            if proc.poll() is None:
                self._kill(live, live.killed_reason or "killed")
                proc.wait()
        code = proc.returncode
        if code < 0:
            code = 128 - code
        return ExecResult(
            exit_code=code,
            stdout=out.decode("utf-8", errors="replace"),
            stderr=err.decode("utf-8", errors="replace"),
            duration_s=time.monotonic() - start,
            timed_out=live.killed_reason == "timeout",
            killed_reason=live.killed_reason,
        )

    @staticmethod
    def _popen(
        argv: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        stdin: bytes | None,
        user: int | None,
        group: int | None,
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
            user=user,
            group=group,
            extra_groups=[] if group is not None else None,
        )

    def kill_all(self, reason: str = "killed") -> None:
        """Kill every process this table still runs; their results say ``reason``."""
        with self._lock:
            entries = list(self._entries.values())
        for live in entries:
            self._kill(live, reason)

    @staticmethod
    def _kill(live: _Live, reason: str | None) -> None:
        if live.killed_reason is None and reason is not None:
            live.killed_reason = reason
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(live.proc.pid, signal.SIGKILL)
        for hook in live.on_kill:
            hook()

    def _pump(
        self, live: _Live, stdin: bytes | None, limits: SandboxLimits, start: float
    ) -> tuple[bytes, bytes]:
        """Feed stdin and read stdout/stderr until EOF, the deadline or the cap."""
        proc = live.proc
        assert proc.stdout is not None and proc.stderr is not None
        out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
        in_fd = proc.stdin.fileno() if proc.stdin is not None else -1
        chunks: dict[int, bytearray] = {out_fd: bytearray(), err_fd: bytearray()}
        total = 0
        pending = memoryview(stdin or b"")
        deadline = start + limits.timeout_s
        exited_at: float | None = None
        with selectors.DefaultSelector() as sel:
            for fd in (out_fd, err_fd):
                os.set_blocking(fd, False)
                sel.register(fd, selectors.EVENT_READ)
            if proc.stdin is not None:
                os.set_blocking(in_fd, False)
                if pending:
                    sel.register(in_fd, selectors.EVENT_WRITE)
                else:
                    proc.stdin.close()
            while sel.get_map() and live.killed_reason is None:
                now = time.monotonic()
                if now >= deadline:
                    self._kill(live, "timeout")
                    break
                if exited_at is None and proc.poll() is not None:
                    exited_at = now
                if exited_at is not None and now - exited_at > EXIT_GRACE_S:
                    self._kill(live, None)  # orphans holding the pipes; the command ended
                    break
                for key, _ in sel.select(min(deadline - now, 0.2)):
                    fd = int(key.fd)
                    if fd == in_fd and proc.stdin is not None:
                        try:
                            pending = pending[os.write(fd, pending) :]
                        except BrokenPipeError:
                            pending = pending[:0]
                        if not pending:
                            sel.unregister(fd)
                            proc.stdin.close()
                        continue
                    try:
                        data = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    if not data:
                        sel.unregister(fd)
                        continue
                    room = limits.max_output_bytes - total
                    chunks[fd] += data[:room]
                    total += min(len(data), room)
                    if len(data) > room:
                        self._kill(live, "output")
                        break
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        return bytes(chunks[out_fd]), bytes(chunks[err_fd])
