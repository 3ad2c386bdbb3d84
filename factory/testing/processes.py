"""The daemon as a child process, for tests and benchmarks: start, crash, stop, measure.

``DaemonProcess`` runs ``python -m factory start`` with a given environment (JSON logs on
stderr), optionally with a crash point armed, and knows when it has started;
``proc_status`` reads a process's resident memory and thread count from
``/proc/PID/status`` (Linux only); ``wait_until`` polls.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factory.crashpoints import CRASH_ENV


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


class DaemonProcess:
    """``python -m factory start`` in a subprocess; waits for its ``daemon_started`` line."""

    def __init__(
        self, env: dict[str, str], cwd: Path | None = None, *, crash_at: str | None = None
    ) -> None:
        """Start the daemon with exactly ``env`` (plus ``FACTORYD_CRASH_AT`` if given)."""
        env = dict(env)
        if crash_at:
            env[CRASH_ENV] = crash_at
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "factory", "start"],
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
