"""A root daemon's run keeps a spare waiting in a fresh leaf: commands start already inside."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from factory.interfaces import ExecResult, SandboxLimits
from factory.sandbox import BwrapSandbox
from factory.sandbox.cgroup import find_pids_root, sweep_stale
from factory.sandbox.spares import Spare

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="pids cgroups are used only as root")


def _spares() -> dict[Path, list[int]]:
    """This process's waiting spares: their leaf cgroup and the pids in it."""
    found: dict[Path, list[int]] = {}
    for root in (
        Path("/sys/fs/cgroup/pids/factoryd-sandbox"),
        Path("/sys/fs/cgroup/factoryd-sandbox"),
    ):
        for leaf in root.glob(f"run-{os.getpid()}-*/spare-*"):
            found[leaf] = [int(p) for p in (leaf / "cgroup.procs").read_text().split()]
    return found


def _wait_for_spare(deadline_s: float = 10.0) -> dict[Path, list[int]]:
    """Return the spares once one holds its process (or what there is at the deadline)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        found = _spares()
        if found and all(found.values()):
            return found
        time.sleep(0.01)
    return _spares()


def _wait_until_taken_next(sandbox: BwrapSandbox, workspace: Path) -> None:
    """Wait until the run's spare is registered as ready (its leaf and process exist a moment
    before): a command arriving earlier makes its own process instead, by design."""
    spares = sandbox._spares
    assert spares is not None
    end = time.monotonic() + 10
    while time.monotonic() < end:
        with spares._lock:
            if workspace.resolve() in spares._ready:
                return
        time.sleep(0.01)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return ""


@pytest.fixture
def sandbox() -> BwrapSandbox:
    """A probed root sandbox (with pids cgroups)."""
    made = BwrapSandbox()
    made.probe()
    return made


def test_open_run_keeps_one_spare_waiting_in_a_leaf_of_its_own(
    sandbox: BwrapSandbox, workspace: Path
) -> None:
    """After open_run one spare (bash) waits alone in a spare- leaf of the run's cgroup."""
    sandbox.open_run(workspace)
    found = _wait_for_spare()
    programs = [_cmdline(pid) for pids in found.values() for pid in pids]
    sandbox.close_run(workspace)
    assert (len(found), programs) == (1, ["/bin/bash"])


def test_command_of_a_run_is_execd_by_the_waiting_spare(
    sandbox: BwrapSandbox, workspace: Path
) -> None:
    """The spare process that waited in its leaf becomes the command's bwrap (no move)."""
    sandbox.open_run(workspace)
    [[spare_pid]] = _wait_for_spare().values()
    _wait_until_taken_next(sandbox, workspace)
    results: list[ExecResult] = []
    thread = threading.Thread(
        target=lambda: results.append(sandbox.exec(["sleep", "1"], workspace=workspace))
    )
    thread.start()
    end = time.monotonic() + 5
    # cmdline reads empty for a moment while execve replaces the program: not the answer yet
    while _cmdline(spare_pid) in ("/bin/bash", "") and time.monotonic() < end:
        time.sleep(0.01)
    became = _cmdline(spare_pid)
    thread.join(timeout=20)
    sandbox.close_run(workspace)
    assert (became, results[0].exit_code) == (sandbox._binary(), 0)


def test_next_spare_is_ready_after_a_command(sandbox: BwrapSandbox, workspace: Path) -> None:
    """A command uses the spare; a new one (another process) waits for the next command."""
    sandbox.open_run(workspace)
    [[first]] = _wait_for_spare().values()
    _wait_until_taken_next(sandbox, workspace)
    sandbox.exec(["true"], workspace=workspace)
    [[second]] = _wait_for_spare().values()
    program = _cmdline(second)
    sandbox.close_run(workspace)
    assert (second != first, program) == (True, "/bin/bash")


def test_close_run_ends_the_waiting_spare_and_removes_its_leaf(
    sandbox: BwrapSandbox, workspace: Path
) -> None:
    """close_run kills the spare and leaves neither its process nor its cgroup behind."""
    sandbox.open_run(workspace)
    [[spare_pid]] = _wait_for_spare().values()
    sandbox.close_run(workspace)
    assert (_cmdline(spare_pid), _spares()) == ("", {})


def test_command_with_stdin_gets_a_process_of_its_own_and_its_input(
    sandbox: BwrapSandbox, workspace: Path
) -> None:
    """A command with stdin does not take the spare (it has no stdin pipe) and reads its input."""
    sandbox.open_run(workspace)
    [[spare_pid]] = _wait_for_spare().values()
    result = sandbox.exec(["cat"], workspace=workspace, stdin=b"fed in")
    still = _cmdline(spare_pid)
    sandbox.close_run(workspace)
    assert (result.stdout, still) == ("fed in", "/bin/bash")


def test_spare_command_keeps_the_fork_limit(sandbox: BwrapSandbox, workspace: Path) -> None:
    """A command started by a spare still cannot fork past max_processes."""
    sandbox.open_run(workspace)
    _wait_for_spare()
    script = (
        "import os, time\nn = 0\nfor _ in range(40):\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(20)\n"
        "        os._exit(0)\n    n += 1\nprint(n, flush=True)\nos._exit(0)\n"
    )
    limits = SandboxLimits(timeout_s=10, max_processes=5)
    result = sandbox.exec(["python3", "-c", script], workspace=workspace, limits=limits)
    sandbox.close_run(workspace)
    assert 0 < int(result.stdout) <= 5


def test_sweep_removes_a_killed_daemons_run_cgroup_with_its_spare_leaf() -> None:
    """A dead daemon's run cgroup holding an (empty) spare- leaf is swept, leaf and all."""
    base = find_pids_root()
    assert base is not None
    run = base / "run-999999999-1-deadbeef"
    (run / "spare-999999999-2-cafebabe").mkdir(parents=True)
    swept = sweep_stale(base)
    assert (run in swept, run.exists()) == (True, False)


def test_spare_whose_daemon_is_gone_exits_without_running_anything() -> None:
    """A spare whose argv pipe closes unwritten (its daemon died) exits 0 and leaves no task."""
    base = find_pids_root()
    assert base is not None
    spare = Spare(base, max_pids=3)
    os.close(spare._args)  # what the kernel does to the daemon's end when it dies
    spare._args = -1
    code = spare.proc.wait(timeout=10)
    tasks = (spare.cgroup.path / "cgroup.procs").read_text()
    spare.discard()
    assert (code, tasks) == (0, "")


def test_concurrent_commands_of_one_run_each_get_their_own_limited_leaf(
    sandbox: BwrapSandbox, workspace: Path
) -> None:
    """Two commands at once in one run: one takes the spare, the other makes its own; both run."""
    sandbox.open_run(workspace)
    _wait_for_spare()
    results: list[ExecResult] = []
    limits = SandboxLimits(max_processes=7)
    threads = [
        threading.Thread(
            target=lambda: results.append(
                sandbox.exec(["sh", "-c", "sleep 0.5; echo ok"], workspace=workspace, limits=limits)
            )
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    limits_seen = sorted(
        (leaf / "pids.max").read_text().strip()
        for root in (Path("/sys/fs/cgroup/pids/factoryd-sandbox"),)
        for leaf in root.glob(f"run-{os.getpid()}-*/run-*")
    )
    for thread in threads:
        thread.join(timeout=20)
    sandbox.close_run(workspace)
    assert ([r.stdout for r in results], limits_seen) == (["ok\n", "ok\n"], ["9", "9"])


def _limits_of(text: str) -> dict[str, tuple[str, str]]:
    """Soft and hard value of the address-space, core and process lines of a limits file."""
    wanted = {"Max address space": "as", "Max core file size": "core", "Max processes": "nproc"}
    found: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        for prefix, key in wanted.items():
            if line.startswith(prefix):
                soft, hard = line[len(prefix) :].split()[:2]
                found[key] = (soft, hard)
    return found


@pytest.mark.parametrize(
    "limits_file",
    ["/proc/self/limits", "/proc/1/limits"],
    ids=["the-command", "the-sandbox-pid-1"],
)
def test_spare_command_runs_with_hard_memory_core_and_process_limits(
    sandbox: BwrapSandbox, workspace: Path, limits_file: str
) -> None:
    """A command of a run (started by the spare) has its limits as soft and hard limits, and
    so has the sandbox's pid 1: the spare sets them before it execs bwrap."""
    sandbox.open_run(workspace)
    _wait_for_spare()
    _wait_until_taken_next(sandbox, workspace)
    limits = SandboxLimits(memory_mb=300, max_processes=9)
    result = sandbox.exec(["cat", limits_file], workspace=workspace, limits=limits)
    sandbox.close_run(workspace)
    mem = str(300 * 1024 * 1024)
    assert _limits_of(result.stdout) == {"as": (mem, mem), "core": ("0", "0"), "nproc": ("9", "9")}


def test_spare_of_a_lone_command_limits_it_too(sandbox: BwrapSandbox, workspace: Path) -> None:
    """A command outside any run (its spare made on the spot) has the same hard limits."""
    limits = SandboxLimits(memory_mb=300, max_processes=9)
    result = sandbox.exec(["cat", "/proc/self/limits"], workspace=workspace, limits=limits)
    mem = str(300 * 1024 * 1024)
    assert _limits_of(result.stdout) == {"as": (mem, mem), "core": ("0", "0"), "nproc": ("9", "9")}


def _spare_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sandbox-spares"]


def test_no_thread_making_spares_outlives_the_last_run(
    sandbox: BwrapSandbox, workspace: Path, tmp_path: Path
) -> None:
    """The background work of two runs' spares ends once both runs are closed."""
    other = tmp_path / "other"
    other.mkdir()
    sandbox.open_run(workspace)
    sandbox.open_run(other)
    for ws in (workspace, other, workspace):
        sandbox.exec(["true"], workspace=ws)
    sandbox.close_run(workspace)
    sandbox.close_run(other)
    end = time.monotonic() + 5
    while _spare_threads() and time.monotonic() < end:
        time.sleep(0.01)
    assert (_spare_threads(), _spares()) == ([], {})


def test_a_run_reopened_after_close_gets_a_spare_again(
    sandbox: BwrapSandbox, workspace: Path
) -> None:
    """Closing the last run and opening another: its commands are started by a spare again."""
    sandbox.open_run(workspace)
    _wait_for_spare()
    sandbox.close_run(workspace)
    sandbox.open_run(workspace)
    found = _wait_for_spare()
    programs = [_cmdline(pid) for pids in found.values() for pid in pids]
    sandbox.close_run(workspace)
    assert programs == ["/bin/bash"]


def test_spare_whose_daemon_dies_after_the_argv_before_go_runs_nothing(tmp_path: Path) -> None:
    """The argv handed over but no go byte (the daemon died in between): nothing is run."""
    base = find_pids_root()
    assert base is not None
    marker = tmp_path / "ran"
    spare = Spare(base, max_pids=3)
    argv = ["2097152", "9", "/usr/bin/touch", str(marker)]
    os.pwrite(spare._memfd, b"".join(os.fsencode(a) + b"\0" for a in argv), 0)
    os.close(spare._args)  # the go pipe closes unwritten, as when the daemon is killed
    spare._args = -1
    code = spare.proc.wait(timeout=10)
    spare.discard()
    assert (code, marker.exists()) == (0, False)
