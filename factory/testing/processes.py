"""The daemon as a child process, for tests and benchmarks: start, crash, stop, measure.

``DaemonProcess`` runs ``python -m factory start`` with a given environment (JSON logs on
stderr), optionally with crash points armed and a crash log to prove which one fired
(``fired_points`` reads it), and knows when it has started. With ``preloaded`` the child is
forked from a server process that imported the daemon once (``multiprocessing``'s
forkserver): the same ``python -m factory start`` in a fresh process, without paying the
imports (seconds of CPU) at every start — for tests that restart the daemon many times;
``proc_status`` reads a process's resident memory and thread count from
``/proc/PID/status`` (Linux only); ``wait_until`` polls.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import runpy
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factory.crashpoints import CRASH_ENV, CRASH_LOG_ENV


def fired_points(crash_log: Path) -> list[str]:
    """Return the crash points that fired, in order, from a ``FACTORYD_CRASH_LOG`` file."""
    if not crash_log.exists():
        return []
    return [line for line in crash_log.read_text().splitlines() if line]


def wait_until(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``predicate`` until truthy; raise TimeoutError naming ``what`` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")


@dataclass(frozen=True)
class Proc:
    """Memory and threads of one process, from /proc/PID/status."""

    rss_kb: int
    hwm_kb: int
    threads: int


def proc_status(pid: int) -> Proc:
    """Read VmRSS, VmHWM (kB) and Threads of ``pid``; raises OSError if it is gone."""
    fields: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return Proc(
        int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0]), int(fields["Threads"])
    )


PRELOAD = ["factory.cli", "factory.daemon.process", "factory.testing.processes"]
"""What the forkserver imports once, before forking preloaded daemons."""


def _forked_start(env: dict[str, str], cwd: str | None, fifo: str) -> None:
    """In the forked child: become ``python -m factory start`` with ``env``, stderr to ``fifo``."""
    err = os.open(fifo, os.O_WRONLY)
    null = os.open(os.devnull, os.O_RDWR)
    for fd, target in ((err, 2), (null, 1), (null, 0)):
        os.dup2(fd, target)
    os.environ.clear()
    os.environ.update(env)
    if cwd is not None:
        os.chdir(cwd)
    sys.argv = ["factoryd", "start"]
    code: object = 0
    try:
        runpy.run_module("factory", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))


class _ForkedProc:
    """The part of ``subprocess.Popen`` DaemonProcess uses, over a forkserver child."""

    def __init__(self, env: dict[str, str], cwd: Path | None) -> None:
        self._dir = tempfile.mkdtemp(prefix="factoryd-fork-")
        self._fifo = os.path.join(self._dir, "stderr")
        os.mkfifo(self._fifo)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        where = None if cwd is None else str(cwd)
        self._child = context.Process(target=_forked_start, args=(env, where, self._fifo))
        self._child.start()
        assert self._child.pid is not None
        self.pid: int = self._child.pid

    @property
    def stderr(self) -> Iterator[str]:
        """The child's stderr lines (blocks until the child opened it; ends when it exits)."""
        with open(self._fifo, encoding="utf-8", errors="replace") as lines:
            os.unlink(self._fifo)
            os.rmdir(self._dir)
            yield from lines

    @property
    def returncode(self) -> int | None:
        """Exit status (negative: killed by that signal), None while running."""
        return self._child.exitcode

    def poll(self) -> int | None:
        """Return the exit status, None while running."""
        return self._child.exitcode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit; raise subprocess.TimeoutExpired after ``timeout`` seconds."""
        self._child.join(timeout)
        if self._child.exitcode is None:
            raise subprocess.TimeoutExpired(["factoryd", "start"], timeout or 0.0)
        return self._child.exitcode

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the child."""
        os.kill(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL the child."""
        self._child.kill()


class DaemonProcess:
    """``python -m factory start`` in a subprocess; waits for its ``daemon_started`` line."""

    def __init__(
        self,
        env: dict[str, str],
        cwd: Path | None = None,
        *,
        crash_at: str | None = None,
        crash_log: Path | None = None,
        preloaded: bool = False,
        args: tuple[str, ...] = ("start",),
    ) -> None:
        """Start the daemon with exactly ``env`` (plus ``FACTORYD_CRASH_AT`` / ``_LOG``);
        ``args`` are the CLI words (``("worker",)``, ``("start", "--role", "control")``)."""
        env = dict(env)
        if crash_at:
            env[CRASH_ENV] = crash_at
        if crash_log is not None:
            env[CRASH_LOG_ENV] = str(crash_log)
        self.proc: subprocess.Popen[str] | _ForkedProc
        if preloaded:
            self.proc = _ForkedProc(env, cwd)
        else:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "factory", *args],
                env=env,
                cwd=cwd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        self.tail: list[str] = []
        self.started = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.tail = [*self.tail[-59:], line.rstrip()]
            try:
                event = json.loads(line).get("event", "")
            except ValueError:
                continue
            if event == "daemon_started":
                self.started.set()

    def wait_started(self, timeout_s: float = 60.0, *, may_crash: bool = False) -> bool:
        """Return True once the daemon logged ``daemon_started``.

        If it exits first: return False when ``may_crash`` (an armed crash point fired),
        else raise RuntimeError with its last log lines. Raises RuntimeError on timeout.
        """
        deadline = time.monotonic() + timeout_s
        while not self.started.wait(0.05):
            exited = self.proc.poll() is not None
            if exited and may_crash:
                return False
            if exited or time.monotonic() > deadline:
                raise RuntimeError("daemon did not start:\n" + "\n".join(self.tail))
        return True

    def kill(self) -> None:
        """kill -9 (if still running) and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 20 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
