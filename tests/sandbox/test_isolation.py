"""What a command inside the bubblewrap sandbox can see and touch."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from factory.sandbox import BwrapSandbox

CANARY = "canary-7f3a9c-do-not-leak"


@pytest.mark.parametrize(
    "command",
    [
        ["env"],
        ["cat", "/proc/self/environ"],
        ["cat", "/proc/1/environ"],
        ["sh", "-c", "cat /proc/[0-9]*/environ"],
    ],
    ids=["env", "proc-self-environ", "proc-1-environ", "every-proc-environ"],
)
def test_daemon_env_canary_is_not_visible(
    sandbox: BwrapSandbox, workspace: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """A secret in the daemon's environment appears nowhere the command can read it."""
    monkeypatch.setenv("FACTORY_CANARY_SECRET", CANARY)
    result = sandbox.exec(command, workspace=workspace)
    assert (result.exit_code, CANARY in result.stdout + result.stderr) == (0, False)


def test_env_is_the_allowlist_plus_caller_extra(sandbox: BwrapSandbox, workspace: Path) -> None:
    """The command's environment is exactly the allowlist plus what the caller passed."""
    result = sandbox.exec(["env", "-0"], workspace=workspace, env={"RUN_ID": "r1"})
    names = {item.split("=", 1)[0] for item in result.stdout.split("\0") if item}
    assert names - {"PWD", "SHLVL", "_"} == {
        "PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "PYTHONDONTWRITEBYTECODE", "RUN_ID"
    }  # fmt: skip


def _connect_script(port: int) -> str:
    return (
        "import socket,sys\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
        "    print('CONNECTED')\n"
        "except OSError as e:\n"
        "    print('FAILED', type(e).__name__)\n"
    )


def test_host_loopback_listener_unreachable_with_network_none(
    sandbox: BwrapSandbox, workspace: Path
) -> None:
    """A TCP listener on the host's 127.0.0.1 cannot be reached with network "none"."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        result = sandbox.exec(["python3", "-c", _connect_script(port)], workspace=workspace)
        server.settimeout(0.1)
        with pytest.raises(TimeoutError):
            server.accept()
    assert result.stdout.split()[0] == "FAILED"


def test_host_loopback_listener_reachable_with_network_full(
    sandbox: BwrapSandbox, workspace: Path
) -> None:
    """With network "full" the same listener is reachable (so the "none" test can fail)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        result = sandbox.exec(
            ["python3", "-c", _connect_script(port)], workspace=workspace, network="full"
        )
    assert result.stdout.strip() == "CONNECTED"


@pytest.mark.parametrize("target", ["/usr/pwned", "/etc/pwned", "/pwned", "PARENT"])
def test_write_outside_workspace_fails(sandbox: BwrapSandbox, workspace: Path, target: str) -> None:
    """Creating a file outside the workspace fails, and nothing appears on the host."""
    path = str(workspace.parent / "pwned") if target == "PARENT" else target
    result = sandbox.exec(["sh", "-c", f"echo x > {path}"], workspace=workspace)
    assert (result.exit_code != 0, Path(path).exists()) == (True, False)


def test_write_in_workspace_persists_on_host(sandbox: BwrapSandbox, workspace: Path) -> None:
    """A file written in the workspace is there on the host afterwards."""
    sandbox.exec(["sh", "-c", "mkdir -p src && echo hello > src/a.txt"], workspace=workspace)
    assert (workspace / "src" / "a.txt").read_text() == "hello\n"


def test_tmp_is_private_and_fresh(sandbox: BwrapSandbox, workspace: Path) -> None:
    """/tmp is private to each command: a file left there is gone in the next command."""
    sandbox.exec(["sh", "-c", "echo x > /tmp/left-behind"], workspace=workspace)
    result = sandbox.exec(["ls", "-A", "/tmp"], workspace=workspace)
    assert result.stdout == ""


def test_daemon_data_dir_is_not_visible(
    sandbox: BwrapSandbox, workspace: Path, daemon_data: Path
) -> None:
    """The daemon's data directory (a sibling of the workspace) does not exist inside."""
    result = sandbox.exec(["ls", str(daemon_data), str(workspace.parent)], workspace=workspace)
    assert (result.exit_code, result.stdout) == (2, "")


def test_home_is_not_visible(sandbox: BwrapSandbox, workspace: Path) -> None:
    """The daemon user's home directory ($HOME, /root here) does not exist inside."""
    home = os.path.expanduser("~")
    result = sandbox.exec(["sh", "-c", f"test -e {home} || echo absent"], workspace=workspace)
    assert result.stdout == "absent\n"


def test_host_processes_are_not_visible(sandbox: BwrapSandbox, workspace: Path) -> None:
    """/proc lists only the sandbox's own few processes, none of the host's (not pytest)."""
    script = (
        "import os\n"
        "for p in sorted(x for x in os.listdir('/proc') if x.isdigit()):\n"
        "    print(p, open(f'/proc/{p}/cmdline','rb').read().split(b'\\0')[0].decode())\n"
    )
    result = sandbox.exec(["python3", "-c", script], workspace=workspace)
    procs = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert (str(os.getpid()) in procs, len(procs) <= 3) == (False, True), procs


def test_exit_code_passes_through(sandbox: BwrapSandbox, workspace: Path) -> None:
    """The command's exit code is the result's exit code."""
    result = sandbox.exec(["sh", "-c", "echo out; echo err >&2; exit 7"], workspace=workspace)
    assert (result.exit_code, result.stdout, result.stderr) == (7, "out\n", "err\n")


def test_stdin_is_fed_to_the_command(sandbox: BwrapSandbox, workspace: Path) -> None:
    """Bytes given as stdin reach the command."""
    result = sandbox.exec(["tr", "a-z", "A-Z"], workspace=workspace, stdin=b"hello")
    assert result.stdout == "HELLO"


def test_agent_tools_are_available(sandbox: BwrapSandbox, workspace: Path) -> None:
    """git, python3, bash and coreutils run inside the sandbox."""
    result = sandbox.exec(
        ["bash", "-c", "git init -q . && python3 -c 'print(2+2)' && ls -d .git"],
        workspace=workspace,
    )
    assert (result.exit_code, result.stdout) == (0, "4\n.git\n")


def test_concurrent_execs_from_threads_each_get_their_own_result(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    """Four threads running commands at once through one sandbox each get their own output."""
    from concurrent.futures import ThreadPoolExecutor

    workspaces = [tmp_path / f"ws{i}" for i in range(4)]
    for ws in workspaces:
        ws.mkdir()

    def run(i: int) -> str:
        return sandbox.exec(["sh", "-c", f"echo {i} > n; cat n"], workspace=workspaces[i]).stdout

    with ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(run, range(4)))
    assert outputs == ["0\n", "1\n", "2\n", "3\n"]
