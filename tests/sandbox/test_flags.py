"""Each hardening flag of the bwrap command line stops a real attack run in the real sandbox.

Every test runs the attack twice: in the sandbox as built, where it must fail, and in the same
sandbox built ``without`` that one flag, where it must succeed — so a flag that stops nothing,
or an attack that cannot work here, shows up as a failing test rather than a silent pass.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from factory.sandbox import BwrapSandbox

ROOT = Path(__file__).resolve().parents[2]

NESTED_USERNS = "unshare --user true && echo USERNS_CREATED || echo REFUSED"
"""util-linux's unshare(1): a new user namespace, where the command would be root again."""


def _attempt(box: BwrapSandbox, workspace: Path, command: str) -> str:
    result = box.exec(["sh", "-c", command], workspace=workspace)
    return result.stdout.strip()


def test_disable_userns_stops_nested_user_namespaces(workspace: Path) -> None:
    """A command cannot create a user namespace of its own; without --disable-userns it can."""
    outcome = (
        _attempt(BwrapSandbox(), workspace, NESTED_USERNS).startswith("REFUSED"),
        _attempt(BwrapSandbox(without={"--disable-userns"}), workspace, NESTED_USERNS),
    )
    assert outcome == (True, "USERNS_CREATED")


def test_cap_drop_stops_reading_a_file_its_mode_forbids(workspace: Path) -> None:
    """A mode-000 file stays unreadable (no CAP_DAC_OVERRIDE); without --cap-drop ALL it is read."""
    locked = workspace / "locked"
    locked.write_text("LOCKED-CONTENT")
    locked.chmod(0)
    code = "cat locked 2>/dev/null || echo REFUSED"
    outcome = (
        _attempt(BwrapSandbox(), workspace, code),
        _attempt(BwrapSandbox(without={"--cap-drop"}), workspace, code),
    )
    assert outcome == ("REFUSED", "LOCKED-CONTENT")


TIOCSTI = r"""
import fcntl, os, termios
try:
    fd = os.open("/dev/tty", os.O_RDWR)
    for ch in b"id\n":
        fcntl.ioctl(fd, termios.TIOCSTI, bytes([ch]))
    print("INJECTED")
except OSError as e:
    print("REFUSED", e.errno)
"""

UNDER_PTY = r"""
import fcntl, shutil, subprocess, sys, termios
from pathlib import Path
fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the pty becomes our controlling terminal
from factory.interfaces import SandboxLimits
from factory.sandbox import BwrapSandbox
from factory.sandbox.bwrap import HOME
from factory.sandbox.environment import build_env
without, ws = sys.argv[1], Path(sys.argv[2])
box = BwrapSandbox(without={without} if without else ())
argv = box.build_argv(
    ["python3", "-c", sys.argv[3]], binary=shutil.which("bwrap"), workspace=ws,
    network="none", limits=SandboxLimits(), env=build_env(HOME, None),
)
# bwrap started in our session, as a launcher that does not setsid would start it.
r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
Path(ws, "result.txt").write_text((r.stdout + r.stderr).strip())
"""
"""The exec path also starts bwrap in a new session (to kill its process group); this runs
bwrap's own argv in the terminal's session, so only the flag stands between it and TIOCSTI."""


def _tiocsti_under_pty(workspace: Path, without: str) -> str:
    """Run the injection from a process whose controlling terminal is a pty (as a daemon in a
    terminal); the sandboxed command reaches it through /dev/tty."""
    master, slave = pty.openpty()
    try:
        subprocess.run(
            [sys.executable, "-c", UNDER_PTY, without, str(workspace), TIOCSTI],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            timeout=30,
            check=True,
            cwd=ROOT,
        )
    finally:
        os.close(slave)
        os.close(master)
    return (workspace / "result.txt").read_text()


def test_new_session_stops_tiocsti_into_the_daemons_terminal(workspace: Path) -> None:
    """TIOCSTI on the daemon's terminal is refused; without --new-session it injects input."""
    outcome = (
        _tiocsti_under_pty(workspace, "").startswith("REFUSED"),
        _tiocsti_under_pty(workspace, "--new-session"),
    )
    assert outcome == (True, "INJECTED")


def test_unknown_flag_to_leave_out_is_refused() -> None:
    """Only the named hardening flags can be left out; anything else is a ValueError."""
    try:
        BwrapSandbox(without={"--unshare-all"})
    except ValueError as exc:
        message = str(exc)
    assert message.startswith("without: ['--unshare-all'] are not hardening flags")
