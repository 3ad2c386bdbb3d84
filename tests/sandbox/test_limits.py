"""Time, process, memory and output limits of the bubblewrap sandbox."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from factory.interfaces import SandboxLimits
from factory.sandbox import BwrapSandbox

Scan = Callable[[str], list[int]]

FORK_COUNTER = (
    "import os, time\n"
    "n = 0\n"
    "for _ in range(200):\n"
    "    try:\n"
    "        pid = os.fork()\n"
    "    except OSError:\n"
    "        break\n"
    "    if pid == 0:\n"
    "        time.sleep(30)\n"
    "        os._exit(0)\n"
    "    n += 1\n"
    "print(n, flush=True)\n"
    "os._exit(0)\n"
)


def test_process_limit_stops_forking_at_the_limit(sandbox: BwrapSandbox, workspace: Path) -> None:
    """A bounded fork loop gets no more than about max_processes children."""
    limits = SandboxLimits(timeout_s=10, max_processes=16)
    result = sandbox.exec(["python3", "-c", FORK_COUNTER], workspace=workspace, limits=limits)
    assert 0 < int(result.stdout) <= 16


def test_fork_bomb_is_contained_and_killed(
    sandbox: BwrapSandbox, workspace: Path, leftovers: Scan
) -> None:
    """A real shell fork bomb hits the process limit, is killed at the timeout, leaves nothing."""
    limits = SandboxLimits(timeout_s=10, max_processes=16)
    bounded = sandbox.exec(["python3", "-c", FORK_COUNTER], workspace=workspace, limits=limits)
    assert int(bounded.stdout) <= 16, "process limit not enforced: not running the real bomb"
    marker = f"bomb-{uuid.uuid4().hex}"
    bomb = f"b(){{ b|b& }}; b; sleep 30 # {marker}"
    result = sandbox.exec(
        ["bash", "-c", bomb],
        workspace=workspace,
        limits=SandboxLimits(timeout_s=2, max_processes=16),
    )
    hit_limit = "Resource temporarily unavailable" in result.stderr
    assert (hit_limit, result.killed_reason, leftovers(marker)) == (True, "timeout", [])


def test_memory_hog_fails_at_the_limit(sandbox: BwrapSandbox, workspace: Path) -> None:
    """Allocating past memory_mb fails with MemoryError and a non-zero exit code."""
    limits = SandboxLimits(memory_mb=128)
    hog = "b = bytearray(512 * 1024 * 1024); print('allocated')"
    result = sandbox.exec(["python3", "-c", hog], workspace=workspace, limits=limits)
    assert (result.exit_code != 0, "MemoryError" in result.stderr) == (True, True)


def test_allocation_under_the_memory_limit_succeeds(sandbox: BwrapSandbox, workspace: Path) -> None:
    """Allocating well under memory_mb works (the limit is not simply "nothing runs")."""
    limits = SandboxLimits(memory_mb=256)
    ok = "b = bytearray(32 * 1024 * 1024); print('allocated')"
    result = sandbox.exec(["python3", "-c", ok], workspace=workspace, limits=limits)
    assert result.stdout == "allocated\n"


def test_timeout_kills_command_and_its_children(
    sandbox: BwrapSandbox, workspace: Path, leftovers: Scan
) -> None:
    """A command outliving its timeout is killed together with its background children."""
    marker = str(10_000_000 + uuid.uuid4().int % 1_000_000)
    result = sandbox.exec(
        ["sh", "-c", f"sleep {marker} & sleep {marker}"],
        workspace=workspace,
        limits=SandboxLimits(timeout_s=1),
    )
    assert (result.timed_out, result.killed_reason, leftovers(f"sleep\0{marker}")) == (
        True,
        "timeout",
        [],
    )


def test_background_child_is_killed_when_command_exits(
    sandbox: BwrapSandbox, workspace: Path, leftovers: Scan
) -> None:
    """A child left running in the background does not outlive its command."""
    marker = str(20_000_000 + uuid.uuid4().int % 1_000_000)
    result = sandbox.exec(
        ["sh", "-c", f"sleep {marker} >/dev/null 2>&1 & echo started"], workspace=workspace
    )
    assert (result.stdout, result.killed_reason, leftovers(f"sleep {marker}")) == (
        "started\n",
        None,
        [],
    )


def test_output_past_the_cap_is_cut_and_killed(sandbox: BwrapSandbox, workspace: Path) -> None:
    """Output beyond max_output_bytes stops the command, keeps the cap, says "output"."""
    limits = SandboxLimits(max_output_bytes=10_000)
    result = sandbox.exec(["yes"], workspace=workspace, limits=limits)
    assert (len(result.stdout), result.killed_reason, result.timed_out) == (10_000, "output", False)


def test_kill_all_stops_running_commands(sandbox: BwrapSandbox, workspace: Path) -> None:
    """kill_all() from another thread ends a running command, whose result says "killed"."""
    results = []
    worker = threading.Thread(
        target=lambda: results.append(
            sandbox.exec(
                ["sh", "-c", "touch started; exec sleep 60"],
                workspace=workspace,
                limits=SandboxLimits(timeout_s=30),
            )
        )
    )
    worker.start()
    while not (workspace / "started").exists() and worker.is_alive():
        worker.join(0.01)
    while worker.is_alive():
        sandbox.kill_all()
        worker.join(0.1)
    assert [r.killed_reason for r in results] == ["killed"]
