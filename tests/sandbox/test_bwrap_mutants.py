"""Tests that kill mutants `make mutants` found alive in the bwrap module."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from factory.errors import SandboxError, SandboxUnavailable
from factory.interfaces import SandboxLimits
from factory.sandbox.bwrap import FIX_HINT, BwrapSandbox
from factory.sandbox.environment import build_env
from factory.sandbox.etcview import shared

ETC = [
    "/etc/alternatives",
    "/etc/ssl/certs",
    "/etc/ssl/openssl.cnf",
    "/etc/ca-certificates",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/localtime",
    "/etc/protocols",
    "/etc/services",
    "/etc/mime.types",
]


def _system_binds() -> list[str]:
    """The binds of the system directories this host has: a symlink stays a symlink."""
    args: list[str] = []
    for d in ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        else:
            args += ["--ro-bind-try", d, d]
    return args


def _expected(workspace: Path, head: list[str], env: dict[str, str], tail: list[str]) -> list[str]:
    """The whole bwrap command line, with ``head`` the flags after the namespaces."""
    # The allowlist is one bind of its copy (the same copy only if the allowlist is ETC).
    etc = ["--ro-bind", str(shared(ETC).path()), "/etc"]
    setenv = [a for k, v in env.items() for a in ("--setenv", k, v)]
    return [
        "/bwrap",
        "--unshare-all",
        "--unshare-user",
        *head,
        "--die-with-parent",
        "--hostname",
        "sandbox",
        "--clearenv",
        *_system_binds(),
        *etc,
        *["--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev"],
        *["--bind", str(workspace), "/workspace", "--chdir", "/workspace"],
        *["--remount-ro", "/"],
        *setenv,
        "--",
        *tail,
    ]


LIMITS = SandboxLimits(memory_mb=64, max_processes=7)
PRLIMITED = ["/usr/bin/prlimit", "--as=67108864:67108864", "--core=0:0", "--nproc=7:7", "--"]


def _argv(sandbox: BwrapSandbox, workspace: Path, network: str = "none") -> list[str]:
    return sandbox.build_argv(
        ["echo", "hi"],
        binary="/bwrap",
        workspace=workspace,
        network=network,  # type: ignore[arg-type]
        limits=LIMITS,
        env={"A": "1", "B": "two"},
    )


# --- build_argv: the command line --------------------------------------------------------


def test_argv_without_network_has_every_hardening_flag(tmp_path: Path) -> None:
    """The default command line: all hardening flags, no network, env and limits in place."""
    head = ["--disable-userns", "--cap-drop", "ALL", "--new-session"]
    expected = _expected(tmp_path, head, {"A": "1", "B": "two"}, [*PRLIMITED, "echo", "hi"])
    assert _argv(BwrapSandbox(), tmp_path) == expected


def test_argv_with_full_network_shares_it_before_the_new_session(tmp_path: Path) -> None:
    """Network "full" adds --share-net (after the capability drop, before --new-session)."""
    head = ["--disable-userns", "--cap-drop", "ALL", "--share-net", "--new-session"]
    expected = _expected(tmp_path, head, {"A": "1", "B": "two"}, [*PRLIMITED, "echo", "hi"])
    assert _argv(BwrapSandbox(), tmp_path, "full") == expected


@pytest.mark.parametrize(
    ("without", "head"),
    [
        ("--disable-userns", ["--cap-drop", "ALL", "--new-session"]),
        ("--cap-drop", ["--disable-userns", "--new-session"]),
        ("--new-session", ["--disable-userns", "--cap-drop", "ALL"]),
    ],
    ids=["disable-userns", "cap-drop", "new-session"],
)
def test_argv_leaves_out_only_the_flag_asked_for(
    tmp_path: Path, without: str, head: list[str]
) -> None:
    """``without`` drops exactly that hardening flag (and its argument) and nothing else."""
    expected = _expected(tmp_path, head, {"A": "1", "B": "two"}, [*PRLIMITED, "echo", "hi"])
    assert _argv(BwrapSandbox(without={without}), tmp_path) == expected


# --- the constructor ---------------------------------------------------------------------


def test_unknown_flags_to_leave_out_are_named_sorted() -> None:
    """Every unknown ``without`` entry is named, sorted, beside the valid flags."""
    with pytest.raises(ValueError) as caught:
        BwrapSandbox(without={"--zzz", "--aaa", "--cap-drop"})
    assert str(caught.value) == (
        "without: ['--aaa', '--zzz'] are not hardening flags "
        "('--disable-userns', '--cap-drop', '--new-session')"
    )


def test_weakened_sandbox_logs_the_flags_it_leaves_out() -> None:
    """Leaving flags out logs one sandbox_weakened warning with them sorted."""
    with capture_logs() as logs:
        BwrapSandbox(without={"--new-session", "--cap-drop"})
    assert logs == [
        {
            "event": "sandbox_weakened",
            "without": ["--cap-drop", "--new-session"],
            "log_level": "warning",
        }
    ]


def test_full_sandbox_logs_nothing_when_made() -> None:
    """A sandbox with every hardening flag says nothing when it is made."""
    with capture_logs() as logs:
        BwrapSandbox()
    assert logs == []


def test_default_binary_is_bwrap_on_path() -> None:
    """Without an argument the binary is "bwrap", looked up on PATH."""
    assert BwrapSandbox().bwrap == "bwrap"


# --- probe -------------------------------------------------------------------------------


def _script(tmp_path: Path, body: str, name: str = "bwrap") -> Path:
    """An executable shell script standing in for bwrap (it records or fails, no sandbox)."""
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_probe_failure_names_the_binary_and_its_error_and_the_fix(tmp_path: Path) -> None:
    """A bwrap that cannot start: the message names it, its stripped stderr and the fix."""
    fake = _script(tmp_path, "echo '  no namespaces  ' >&2\nexit 1")
    with pytest.raises(SandboxUnavailable) as caught:
        BwrapSandbox(bwrap=str(fake), use_cgroup=False).probe()
    assert str(caught.value) == f"bubblewrap ({fake}) cannot start: no namespaces. {FIX_HINT}"


def test_probe_failure_without_stderr_names_the_exit_code(tmp_path: Path) -> None:
    """A bwrap that fails silently is reported by its exit code."""
    fake = _script(tmp_path, "exit 3")
    with pytest.raises(SandboxUnavailable) as caught:
        BwrapSandbox(bwrap=str(fake), use_cgroup=False).probe()
    assert str(caught.value) == f"bubblewrap ({fake}) cannot start: exit code 3. {FIX_HINT}"


def test_probe_failure_keeps_500_characters_of_stderr(tmp_path: Path) -> None:
    """A long error is cut to its first 500 characters."""
    fake = _script(tmp_path, "printf 'x%.0s' $(seq 600) >&2\nexit 1")
    with pytest.raises(SandboxUnavailable) as caught:
        BwrapSandbox(bwrap=str(fake), use_cgroup=False).probe()
    assert str(caught.value) == f"bubblewrap ({fake}) cannot start: {'x' * 500}. {FIX_HINT}"


def test_probe_runs_bwrap_once(tmp_path: Path) -> None:
    """A second probe trusts the first: bwrap is not started again."""
    count = tmp_path / "count"
    fake = _script(tmp_path, f"echo run >> {count}")
    sandbox = BwrapSandbox(bwrap=str(fake), use_cgroup=False)
    sandbox.probe()
    sandbox.probe()
    assert count.read_text() == "run\n"


def test_probe_runs_true_without_network_in_a_fresh_directory(tmp_path: Path) -> None:
    """The probe runs ``true`` with no network, 30 s, default limits, in a factoryd-probe dir."""
    record = tmp_path / "argv"
    fake = _script(tmp_path, f'printf "%s\\n" "$@" > {record}')
    BwrapSandbox(bwrap=str(fake), use_cgroup=False).probe()
    argv = record.read_text().splitlines()
    bound = argv[argv.index("--bind") + 1]
    expected = BwrapSandbox().build_argv(
        ["true"],
        binary=str(fake),
        workspace=Path(bound),
        network="none",
        limits=SandboxLimits(timeout_s=30),
        env=build_env("/tmp"),
    )
    assert (argv, Path(bound).name.startswith("factoryd-probe-")) == (expected[1:], True)


def test_probe_logs_that_the_sandbox_is_ready(tmp_path: Path) -> None:
    """A probe that works logs sandbox_ready with the backend, the binary and the cgroup."""
    fake = _script(tmp_path, "exit 0")
    with capture_logs() as logs:
        BwrapSandbox(bwrap=str(fake), use_cgroup=False).probe()
    ready = [line for line in logs if line["event"] == "sandbox_ready"]
    assert ready == [
        {
            "event": "sandbox_ready",
            "backend": "bwrap",
            "bwrap": str(fake),
            "cgroup": False,
            "log_level": "info",
        }
    ]


def test_bwrap_that_cannot_be_executed_is_unavailable(tmp_path: Path) -> None:
    """A bwrap file the kernel cannot run (its interpreter is missing) fails closed."""
    fake = _script(tmp_path, "", name="bwrap")
    fake.write_text("#!/no/such/interpreter\n")
    with pytest.raises(SandboxUnavailable) as caught:
        BwrapSandbox(bwrap=str(fake), use_cgroup=False).probe()
    message = str(caught.value)
    assert (message.startswith(f"cannot start {fake}: "), message.endswith(f". {FIX_HINT}")) == (
        True,
        True,
    )


def test_missing_bwrap_names_what_was_looked_for(tmp_path: Path) -> None:
    """A bwrap that is not there is named in the message, with the fix."""
    missing = str(tmp_path / "no-such-bwrap")
    with pytest.raises(SandboxUnavailable) as caught:
        BwrapSandbox(bwrap=missing).probe()
    assert str(caught.value) == f"bubblewrap not found at {missing!r}. {FIX_HINT}"


# --- exec --------------------------------------------------------------------------------


def test_empty_argv_is_refused(tmp_path: Path) -> None:
    """An empty command raises ValueError saying so."""
    with pytest.raises(ValueError) as caught:
        BwrapSandbox().exec([], workspace=tmp_path)
    assert str(caught.value) == "argv must not be empty"


def test_unknown_network_is_refused_by_name(tmp_path: Path) -> None:
    """A network other than none/full raises ValueError naming it."""
    with pytest.raises(ValueError) as caught:
        BwrapSandbox().exec(["true"], workspace=tmp_path, network="some")  # type: ignore[arg-type]
    assert str(caught.value) == "network must be 'none' or 'full', got 'some'"


def test_allowlist_network_without_an_egress_proxy_is_refused(tmp_path: Path) -> None:
    """Network "allowlist" without the run's egress proxy raises ValueError saying so."""
    with pytest.raises(ValueError) as caught:
        BwrapSandbox().exec(["true"], workspace=tmp_path, network="allowlist")
    assert str(caught.value) == ("network 'allowlist' needs an egress proxy, and only it takes one")


def test_missing_workspace_is_named_in_the_error(tmp_path: Path) -> None:
    """A workspace that is not a directory raises SandboxError naming it as given."""
    missing = tmp_path / "missing-ws"
    with pytest.raises(SandboxError) as caught:
        BwrapSandbox().exec(["true"], workspace=missing)
    assert str(caught.value) == f"workspace {str(missing)!r} is not a directory"


def test_exec_passes_network_limits_env_and_the_resolved_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """exec runs bwrap with the caller's network, limits and env over the resolved workspace."""
    record = tmp_path / "argv"
    fake = _script(tmp_path, f'printf "%s\\n" "$@" > {record}')
    (tmp_path / "ws").mkdir()
    monkeypatch.chdir(tmp_path)
    sandbox = BwrapSandbox(bwrap=str(fake), use_cgroup=False)
    sandbox.exec(
        ["echo", "hi"], workspace=Path("ws"), network="full", limits=LIMITS, env={"A": "1"}
    )
    expected = sandbox.build_argv(
        ["echo", "hi"],
        binary=str(fake),
        workspace=tmp_path / "ws",
        network="full",
        limits=LIMITS,
        env=build_env("/tmp", {"A": "1"}),
    )
    assert record.read_text().splitlines() == expected[1:]


def test_exec_without_limits_uses_the_default_limits(tmp_path: Path) -> None:
    """No limits given: the default SandboxLimits apply (2048 MB, 256 processes)."""
    record = tmp_path / "argv"
    fake = _script(tmp_path, f'printf "%s\\n" "$@" > {record}')
    (tmp_path / "ws").mkdir()
    BwrapSandbox(bwrap=str(fake), use_cgroup=False).exec(["true"], workspace=tmp_path / "ws")
    mem = 2048 * 1024 * 1024
    tail = ["/usr/bin/prlimit", f"--as={mem}:{mem}", "--core=0:0", "--nproc=256:256", "--", "true"]
    assert record.read_text().splitlines()[-6:] == tail


def test_exec_feeds_stdin_to_the_command(workspace: Path) -> None:
    """The bytes given as stdin reach the sandboxed command."""
    result = BwrapSandbox().exec(["cat"], workspace=workspace, stdin=b"fed in")
    assert (result.exit_code, result.stdout) == (0, "fed in")


def test_exec_logs_the_command_it_ran(workspace: Path) -> None:
    """Each command logs sandbox_exec with its program, exit code, kill reason and duration."""
    sandbox = BwrapSandbox()
    sandbox.probe()
    with capture_logs() as logs:
        result = sandbox.exec(["sh", "-c", "exit 4"], workspace=workspace)
    assert logs == [
        {
            "event": "sandbox_exec",
            "backend": "bwrap",
            "program": "sh",
            "exit_code": 4,
            "killed_reason": None,
            "duration_s": round(result.duration_s, 3),
            "log_level": "debug",
        }
    ]


def test_kill_all_kills_a_running_command(workspace: Path) -> None:
    """kill_all ends a command still running; its result says it was killed."""
    sandbox = BwrapSandbox()
    sandbox.probe()
    results = []
    thread = threading.Thread(
        target=lambda: results.append(sandbox.exec(["sleep", "30"], workspace=workspace))
    )
    thread.start()
    time.sleep(1.0)
    sandbox.kill_all()
    thread.join(timeout=20)
    assert [r.killed_reason for r in results] == ["killed"]


# --- the pids cgroup of a root daemon ----------------------------------------------------

needs_root = pytest.mark.skipif(
    os.geteuid() != 0,
    reason=(
        "only a root daemon uses pids cgroups (an unprivileged one is limited by RLIMIT_NPROC, "
        "tests/sandbox/test_limits.py); CI runs as root, so these run there"
    ),
)


@needs_root
def test_root_daemon_probes_with_a_cgroup(workspace: Path) -> None:
    """Run as root, a sandbox uses a pids cgroup by default and says so when ready."""
    with capture_logs() as logs:
        BwrapSandbox().probe()
    assert [line["cgroup"] for line in logs if line["event"] == "sandbox_ready"] == [True]


def _cgroups() -> set[Path]:
    """This process's command cgroups (other processes share the factoryd-sandbox root)."""
    mine = f"run-{os.getpid()}-*"
    return set(Path("/sys/fs/cgroup/pids/factoryd-sandbox").glob(mine)) | set(
        Path("/sys/fs/cgroup/factoryd-sandbox").glob(mine)
    )


@needs_root
def test_command_cgroup_allows_its_processes_plus_bwrap_and_is_removed(
    workspace: Path,
) -> None:
    """The command's cgroup allows max_processes + 2 tasks and is gone after it ends."""
    sandbox = BwrapSandbox()
    sandbox.probe()
    before = _cgroups()
    thread = threading.Thread(
        target=lambda: sandbox.exec(
            ["sleep", "2"], workspace=workspace, limits=SandboxLimits(max_processes=7)
        )
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not (_cgroups() - before) and time.monotonic() < deadline:
        time.sleep(0.02)
    limits = [(p / "pids.max").read_text().strip() for p in _cgroups() - before]
    thread.join(timeout=20)
    assert (limits, _cgroups() - before) == (["9"], set())


def test_sandbox_without_cgroup_runs_and_logs_only_the_command(workspace: Path) -> None:
    """With use_cgroup=False no cgroup is made: the command runs and only sandbox_exec is logged."""
    sandbox = BwrapSandbox(use_cgroup=False)
    sandbox.probe()
    with capture_logs() as logs:
        result = sandbox.exec(["true"], workspace=workspace)
    assert (result.exit_code, [line["event"] for line in logs]) == (0, ["sandbox_exec"])


def test_command_killed_at_its_timeout_logs_the_reason(workspace: Path) -> None:
    """A command killed for its timeout logs sandbox_exec with killed_reason "timeout"."""
    sandbox = BwrapSandbox()
    sandbox.probe()
    with capture_logs() as logs:
        sandbox.exec(["sleep", "30"], workspace=workspace, limits=SandboxLimits(timeout_s=0.5))
    assert [line["killed_reason"] for line in logs if line["event"] == "sandbox_exec"] == [
        "timeout"
    ]


# --- run_once: the first call (its own probe) and a later one (exec) -----------------------

CALLS = pytest.mark.parametrize("later", [False, True], ids=["first", "later"])
"""run_once runs its first command itself and hands later ones to exec: both must pass on
every argument."""


def _once(sandbox: BwrapSandbox, workspace: Path, later: bool) -> BwrapSandbox:
    """Return ``sandbox`` after one run_once of ``true`` when ``later`` (the next call execs)."""
    if later:
        assert sandbox.run_once(["true"], workspace=workspace).exit_code == 0
    return sandbox


def _interfaces(net_dev: str) -> list[str]:
    """The interface names of a /proc/net/dev listing (its two header lines skipped)."""
    return sorted(line.split(":")[0].strip() for line in net_dev.splitlines()[2:])


@CALLS
def test_run_once_feeds_stdin_to_the_command(workspace: Path, later: bool) -> None:
    """The bytes given as stdin reach run_once's command, on the first call and later."""
    sandbox = _once(BwrapSandbox(use_cgroup=False), workspace, later)
    result = sandbox.run_once(["cat"], workspace=workspace, stdin=b"fed in")
    assert (result.exit_code, result.stdout) == (0, "fed in")


@CALLS
def test_run_once_passes_env_to_the_command(workspace: Path, later: bool) -> None:
    """The caller's env is set in run_once's command, on the first call and later."""
    sandbox = _once(BwrapSandbox(use_cgroup=False), workspace, later)
    result = sandbox.run_once(["sh", "-c", 'echo "$FOO"'], workspace=workspace, env={"FOO": "x1"})
    assert (result.exit_code, result.stdout) == (0, "x1\n")


@CALLS
def test_run_once_applies_the_limits_asked_for(workspace: Path, later: bool) -> None:
    """run_once's command runs under the caller's limits (7 processes, not the default 256)."""
    sandbox = _once(BwrapSandbox(use_cgroup=False), workspace, later)
    result = sandbox.run_once(["cat", "/proc/self/limits"], workspace=workspace, limits=LIMITS)
    nproc = [line.split()[2:4] for line in result.stdout.splitlines() if "Max processes" in line]
    assert (result.exit_code, nproc) == (0, [["7", "7"]])


@CALLS
def test_run_once_shares_the_network_asked_for(workspace: Path, later: bool) -> None:
    """With network "full" run_once's command sees the host's interfaces, not only lo."""
    sandbox = _once(BwrapSandbox(use_cgroup=False), workspace, later)
    result = sandbox.run_once(["cat", "/proc/net/dev"], workspace=workspace, network="full")
    host = _interfaces(Path("/proc/net/dev").read_text())
    assert (result.exit_code, _interfaces(result.stdout)) == (0, host)


def test_run_once_logs_the_binary_it_is_ready_with(workspace: Path) -> None:
    """The first run_once logs sandbox_ready with the bwrap path it found on PATH."""
    with capture_logs() as logs:
        BwrapSandbox(use_cgroup=False).run_once(["true"], workspace=workspace)
    ready = [line for line in logs if line["event"] == "sandbox_ready"]
    assert ready == [
        {
            "event": "sandbox_ready",
            "backend": "bwrap",
            "bwrap": shutil.which("bwrap"),
            "cgroup": False,
            "log_level": "info",
        }
    ]


def test_run_without_cgroups_opens_and_closes_cleanly(workspace: Path) -> None:
    """Without cgroups (no run cgroup, no spares) a run opens, runs and closes without error."""
    sandbox = BwrapSandbox(use_cgroup=False)
    sandbox.open_run(workspace)
    result = sandbox.exec(["true"], workspace=workspace)
    sandbox.close_run(workspace)
    assert result.exit_code == 0


# Names as of tree 03d6ece (the spare sets the rlimits: ``_run`` renumbered, ``_found`` added).
# Not killable here (each needs a broken host, not something a test may break):
# - xǁBwrapSandboxǁ_check_host__mutmut_4: the message when /usr/bin/prlimit is missing.
# - xǁBwrapSandboxǁ_check_host__mutmut_7: the message (NO_PIDS_CGROUP) when a root daemon
#   finds no writable pids cgroup (this host has one; its root is shared with others).
# - xǁBwrapSandboxǁopen_run__mutmut_3: the message when the run's cgroup cannot be made.
# - xǁBwrapSandboxǁ_etc_dir__mutmut_1: the message when the /etc copy cannot be made.
# - xǁBwrapSandboxǁ_run__mutmut_46: the message when a command's pids cgroup cannot be made.
# Not killable on this host (cgroup v1, where spares exist whenever run cgroups do); each
# differs only on a cgroup v2 host, which has no spares:
# - xǁBwrapSandboxǁ_check_host__mutmut_13, _14 ("XXcgroup.controllersXX",
#   "CGROUP.CONTROLLERS": on v1 neither file exists, like cgroup.controllers).
# - xǁBwrapSandboxǁopen_run__mutmut_6 (`spares is not None or run is not None`).
# Equivalent:
# - xǁBwrapSandboxǁ_run__mutmut_63, _70, _72 drop `on_kill=cgroup.kill` (None, left out,
#   `cgroup and False`). Killing bwrap's process group already ends the whole sandbox:
#   --die-with-parent kills the namespace's pid 1, and the pid namespace dies with it, so no
#   process is left for the cgroup kill to reach; it is defence in depth that no test can
#   tell from its absence.
# - xǁBwrapSandboxǁ_run__mutmut_30 (`self._runs is not None or True`): ``_check_host`` sets
#   ``_runs`` whenever it sets ``_cgroup_base``, and this line runs only with a cgroup base,
#   so ``_runs`` is never None there.
# - xǁBwrapSandboxǁ_run__mutmut_37 (``max_pids`` None to ``command_spare``): a spare made
#   without a limit is a ``spare-`` cgroup that ``release`` renames ``run-`` and limits to
#   the same ``max_pids`` before bwrap is exec'd, so the command runs under the same limit.
# - xǁBwrapSandboxǁ_run__mutmut_59 (``cwd=None``): bwrap --chdir's to /workspace, so its
#   own cwd on the host is not visible inside; a root daemon's bwrap is exec'd by a spare
#   started in / anyway (spares.py), so no command can tell where bwrap was started.
# - xǁBwrapSandboxǁprobe__mutmut_9, _21, _22: the probe's network "none" -> None,
#   "XXnoneXX", "NONE". build_argv shares the network only for "full"; every other value
#   means no network, so the probe's command line is the same.
# - xǁBwrapSandboxǁ__init____mutmut_30: `self._probed = False` -> `None`; it is only
#   tested for truth.
# - xǁBwrapSandboxǁbuild_argv__mutmut_96 (``rlimits or True``) and _run__mutmut_17 (the
#   ``rlimits=`` argument left out, so True): a root daemon's command gets ``prlimit`` inside
#   the sandbox on top of the spare's ``ulimit`` — the same limits set twice, a cost and no
#   behaviour (test_spares.py checks the limits the command and the sandbox's pid 1 have).
# - xǁBwrapSandboxǁ__init____mutmut_32 (``_found = ""``) and _binary__mutmut_11 (the found
#   path never kept): ``_binary`` then walks PATH every time, as before the cache; the path
#   it returns is the same, only the cost differs.
