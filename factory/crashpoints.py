"""Crash injection points: let a test kill the process at an exact place, like a power cut.

Code calls ``crashpoint("name")`` where a crash matters (e.g. right after GitHub replied and
before the store records it). When the environment variable ``FACTORYD_CRASH_AT`` names that
point (a comma-separated list is allowed), the process ends at once with ``os._exit(9)``: no
``finally`` blocks, no atexit handlers, no flushing — which is what a kill -9 looks like.

So that a test can prove a kill happened, and where, a firing point first appends its name
and a newline to the file named by ``FACTORYD_CRASH_LOG`` (when set), and fsyncs it. Unset,
a crashpoint costs one environment lookup.
"""

from __future__ import annotations

import os
import threading

CRASH_ENV = "FACTORYD_CRASH_AT"
"""Environment variable naming the crash point(s) to die at."""

CRASH_LOG_ENV = "FACTORYD_CRASH_LOG"
"""Environment variable naming the file a firing crash point appends its name to."""

CRASH_EXIT_CODE = 9
"""Exit status of a process killed by a crash point."""

_dying = threading.Lock()
"""Taken (never released) by the first thread to fire: others reaching a point wait to die."""


def crashpoint(name: str) -> None:
    """End the process with exit code 9 if ``FACTORYD_CRASH_AT`` names ``name``; else return."""
    wanted = os.environ.get(CRASH_ENV)
    if wanted and name in {w.strip() for w in wanted.split(",")}:
        _dying.acquire()  # one death, one line: a second thread here dies with the first
        _record(name)
        os._exit(CRASH_EXIT_CODE)


def _record(name: str) -> None:
    # Written and fsynced before dying: the evidence must survive the kill it reports.
    path = os.environ.get(CRASH_LOG_ENV)
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, f"{name}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
