"""Crash injection points: let a test kill the process at an exact place, like a power cut.

Code calls ``crashpoint("name")`` where a crash matters (e.g. right after GitHub replied and
before the store records it). When the environment variable ``FACTORYD_CRASH_AT`` names that
point (a comma-separated list is allowed), the process ends at once with ``os._exit(9)``: no
``finally`` blocks, no atexit handlers, no flushing — which is what a kill -9 looks like.
Unset, a crashpoint costs one environment lookup.
"""

from __future__ import annotations

import os

CRASH_ENV = "FACTORYD_CRASH_AT"
"""Environment variable naming the crash point(s) to die at."""

CRASH_EXIT_CODE = 9
"""Exit status of a process killed by a crash point."""


def crashpoint(name: str) -> None:
    """End the process with exit code 9 if ``FACTORYD_CRASH_AT`` names ``name``; else return."""
    wanted = os.environ.get(CRASH_ENV)
    if wanted and name in {w.strip() for w in wanted.split(",")}:
        os._exit(CRASH_EXIT_CODE)
