"""Fixtures for the sandbox tests: a real bubblewrap sandbox and a workspace beside a data dir."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace directory, a sibling of the daemon's data dir (not inside it)."""
    ws = tmp_path / "workspace"
    ws.mkdir()
    return ws


@pytest.fixture
def daemon_data(tmp_path: Path) -> Path:
    """A stand-in for the daemon's data dir, holding a file the sandbox must not see."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "factory.db").write_text("secret rows")
    return data


def host_pids_with(marker: str) -> list[int]:
    """Return the host pids whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry.name))
    return found


def wait_until_gone(marker: str, within_s: float = 5.0) -> list[int]:
    """Poll until no host process carries ``marker``; return those still left after that."""
    end = time.monotonic() + within_s
    left = host_pids_with(marker)
    while left and time.monotonic() < end:
        time.sleep(0.05)
        left = host_pids_with(marker)
    return left


@pytest.fixture
def leftovers() -> Callable[[str], list[int]]:
    """``leftovers(marker)``: host pids still carrying ``marker`` after a short wait for exit."""
    return wait_until_gone


@pytest.fixture
def running() -> Callable[[str], list[int]]:
    """``running(marker)``: host pids carrying ``marker`` right now."""
    return host_pids_with
