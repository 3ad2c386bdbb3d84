"""A root daemon's pids cgroups: one per run, a limited leaf in it per command, removed."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from factory.interfaces import ExecResult, SandboxLimits
from factory.sandbox import BwrapSandbox
from factory.sandbox.cgroup import find_pids_root

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason=(
        "only a root daemon uses pids cgroups (an unprivileged one is limited by RLIMIT_NPROC, "
        "tests/sandbox/test_limits.py); CI runs as root, so these run there"
    ),
)

FORK_COUNTER = (
    "import os, time\n"
    "n = 0\n"
    "for _ in range(60):\n"
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
"""Forks children that sleep until at most 60; prints how many it got (then leaves them)."""


def _cgroups() -> set[Path]:
    """This process's sandbox cgroups (other processes share the factoryd-sandbox root)."""
    mine = f"run-{os.getpid()}-*"
    return set(Path("/sys/fs/cgroup/pids/factoryd-sandbox").glob(mine)) | set(
        Path("/sys/fs/cgroup/factoryd-sandbox").glob(mine)
    )


def _busy(cgroup: Path) -> bool:
    """Whether ``cgroup`` holds a task now (one removed meanwhile holds none)."""
    try:
        return bool((cgroup / "cgroup.procs").read_text().strip())
    except FileNotFoundError:
        return False


def _leaves(run: set[Path]) -> list[Path]:
    """The command leaves inside the run cgroups ``run`` that hold a task right now."""
    return [leaf for path in run for leaf in path.glob("run-*") if _busy(leaf)]


def _while_running(
    sandbox: BwrapSandbox, workspace: Path, limits: SandboxLimits, look: Callable[[], object]
) -> object:
    """Run ``sleep 1`` in the sandbox and return what ``look()`` sees while it runs."""
    results: list[ExecResult] = []
    thread = threading.Thread(
        target=lambda: results.append(
            sandbox.exec(["sleep", "1"], workspace=workspace, limits=limits)
        )
    )
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        busy = [p for p in _cgroups() if _busy(p)]
        if busy or _leaves(_cgroups()):
            break
        time.sleep(0.01)
    seen = look()
    thread.join(timeout=20)
    return seen


@pytest.fixture
def sandbox() -> BwrapSandbox:
    """A probed root sandbox (with pids cgroups)."""
    made = BwrapSandbox()
    made.probe()
    return made


def test_commands_of_one_run_run_inside_the_one_run_cgroup(
    sandbox: BwrapSandbox, workspace: Path
) -> None:
    """Three commands of an open run each run in a leaf of the cgroup made at open_run."""
    before = _cgroups()
    sandbox.open_run(workspace)
    opened = _cgroups() - before

    def where() -> tuple[set[Path], list[Path]]:
        return _cgroups() - before, [leaf.parent for leaf in _leaves(opened)]

    seen = [_while_running(sandbox, workspace, SandboxLimits(), where) for _ in range(3)]
    sandbox.close_run(workspace)
    run = sorted(opened)
    assert (len(opened), seen) == (1, [(opened, run), (opened, run), (opened, run)])


def test_run_cgroup_stays_between_commands_and_is_removed_at_run_end(
    sandbox: BwrapSandbox, workspace: Path
) -> None:
    """The run's cgroup outlives each command (its leaf does not) and goes at run end."""
    before = _cgroups()
    sandbox.open_run(workspace)
    sandbox.exec(["true"], workspace=workspace)
    between = _cgroups() - before
    leaves_left = [p for run in between for p in run.glob("run-*")]
    sandbox.close_run(workspace)
    assert (len(between), leaves_left, _cgroups() - before) == (1, [], set())


def test_each_command_of_a_run_gets_its_own_pids_limit(
    sandbox: BwrapSandbox, workspace: Path
) -> None:
    """pids.max is the running command's max_processes + 2, set again for each command."""
    sandbox.open_run(workspace)

    def limit() -> list[str]:
        return [(p / "pids.max").read_text().strip() for p in _leaves(_cgroups())]

    first = _while_running(sandbox, workspace, SandboxLimits(max_processes=7), limit)
    second = _while_running(sandbox, workspace, SandboxLimits(max_processes=20), limit)
    sandbox.close_run(workspace)
    assert (first, second) == (["9"], ["22"])


def test_fork_limit_is_enforced_in_a_run_cgroup(sandbox: BwrapSandbox, workspace: Path) -> None:
    """Root ignores RLIMIT_NPROC, yet a run's command cannot fork past max_processes."""
    sandbox.open_run(workspace)
    limits = SandboxLimits(timeout_s=10, max_processes=8)
    result = sandbox.exec(["python3", "-c", FORK_COUNTER], workspace=workspace, limits=limits)
    sandbox.close_run(workspace)
    assert 0 < int(result.stdout) <= 8


def test_next_command_is_not_charged_for_the_previous_ones_processes(
    sandbox: BwrapSandbox, workspace: Path
) -> None:
    """After a command filled the cgroup, the next one of the run gets its full limit again."""
    sandbox.open_run(workspace)
    limits = SandboxLimits(timeout_s=10, max_processes=8)
    first = sandbox.exec(["python3", "-c", FORK_COUNTER], workspace=workspace, limits=limits)
    second = sandbox.exec(["python3", "-c", FORK_COUNTER], workspace=workspace, limits=limits)
    sandbox.close_run(workspace)
    assert (int(first.stdout) > 0, second.stdout) == (True, first.stdout)


def test_command_outside_any_run_still_gets_a_cgroup_of_its_own(
    sandbox: BwrapSandbox, workspace: Path
) -> None:
    """Without open_run, a command has its own cgroup, removed when it ends (as before)."""
    before = _cgroups()
    seen = _while_running(
        sandbox, workspace, SandboxLimits(max_processes=7), lambda: len(_cgroups() - before)
    )
    assert (seen, _cgroups() - before) == (1, set())


def test_probe_removes_the_cgroups_a_killed_daemon_left(workspace: Path) -> None:
    """A cgroup named for a daemon pid that is gone is removed when a new sandbox probes."""
    base = find_pids_root()
    assert base is not None
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = base / f"run-{dead.pid}-1-deadbeef"
    stale.mkdir()
    BwrapSandbox().probe()
    assert stale.exists() is False


def test_probe_keeps_the_cgroups_of_a_live_daemon(sandbox: BwrapSandbox, workspace: Path) -> None:
    """Another live sandbox's open run keeps its cgroup when a new sandbox probes."""
    before = _cgroups()
    sandbox.open_run(workspace)
    BwrapSandbox().probe()
    kept = len(_cgroups() - before)
    sandbox.close_run(workspace)
    assert kept == 1


def test_closing_a_run_kills_what_is_still_running_in_it(
    sandbox: BwrapSandbox, workspace: Path
) -> None:
    """close_run while a command runs kills it and still removes the run's cgroup."""
    before = _cgroups()
    sandbox.open_run(workspace)
    results: list[ExecResult] = []
    thread = threading.Thread(
        target=lambda: results.append(
            sandbox.exec(["sleep", "30"], workspace=workspace, limits=SandboxLimits(timeout_s=60))
        )
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not _leaves(_cgroups() - before) and time.monotonic() < deadline:
        time.sleep(0.01)
    sandbox.close_run(workspace)
    thread.join(timeout=20)
    assert (results[0].exit_code, _cgroups() - before) == (137, set())
