"""The sandbox's /etc: one bind of a refreshed copy of the allowlisted entries."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from factory.interfaces import SandboxLimits
from factory.sandbox import BwrapSandbox
from factory.sandbox.bwrap import ETC_ENTRIES
from factory.sandbox.environment import build_env
from factory.sandbox.etcview import PREFIX, EtcView, sweep_stale


def _argv(sandbox: BwrapSandbox, workspace: Path) -> list[str]:
    return sandbox.build_argv(
        ["true"],
        binary="/bwrap",
        workspace=workspace,
        network="none",
        limits=SandboxLimits(),
        env=build_env("/tmp"),
    )


def test_etc_is_one_mount_on_the_command_line(tmp_path: Path) -> None:
    """The command line mounts exactly one thing at or under /etc."""
    argv = _argv(BwrapSandbox(use_cgroup=False), tmp_path)
    etc_targets = [
        argv[i + 2]
        for i, a in enumerate(argv)
        if a.startswith("--") and "bind" in a and argv[i + 2].startswith("/etc")
    ]
    assert etc_targets == ["/etc"]


def test_sandbox_etc_holds_exactly_the_allowlisted_entries(workspace: Path) -> None:
    """Inside, /etc lists the top-level names of the allowlisted entries the host has."""
    sandbox = BwrapSandbox(use_cgroup=False)
    result = sandbox.exec(["ls", "-A", "/etc"], workspace=workspace)
    expected = sorted({e.split("/")[2] for e in ETC_ENTRIES if os.path.lexists(e)}, key=str.encode)
    assert sorted(result.stdout.split(), key=str.encode) == expected


def test_sandbox_etc_content_matches_the_host(workspace: Path) -> None:
    """A file of the allowlist reads the same inside as on the host."""
    sandbox = BwrapSandbox(use_cgroup=False)
    result = sandbox.exec(["cat", "/etc/passwd"], workspace=workspace)
    assert result.stdout == Path("/etc/passwd").read_text()


def test_sandbox_trusts_the_host_ca_bundle(workspace: Path) -> None:
    """Python's default TLS context inside loads CA certificates through /etc/ssl."""
    code = "import ssl; print(len(ssl.create_default_context().get_ca_certs()) > 0)"
    result = BwrapSandbox(use_cgroup=False).exec(["python3", "-c", code], workspace=workspace)
    assert result.stdout.strip() == "True"


def test_ssl_private_is_not_in_the_copy(workspace: Path) -> None:
    """/etc/ssl/private (root-owned keys) is not in the sandbox's /etc."""
    result = BwrapSandbox(use_cgroup=False).exec(["ls", "-A", "/etc/ssl"], workspace=workspace)
    assert "private" not in result.stdout.split()


def _entries(root: Path) -> list[str]:
    (root / "hosts").write_text("127.0.0.1 one\n")
    (root / "certs").mkdir()
    (root / "certs" / "a.pem").write_text("A")
    (root / "link").symlink_to("/usr/share/zoneinfo/UTC")
    return [str(root / "hosts"), str(root / "certs"), str(root / "link"), str(root / "gone")]


def test_copy_keeps_files_directories_and_symlinks(tmp_path: Path) -> None:
    """Files and directories are copied, symlinks stay symlinks, missing entries are skipped."""
    root = tmp_path / "etc"
    root.mkdir()
    copy = EtcView(_entries(root), root=root).path()
    got = (
        (copy / "hosts").read_text(),
        (copy / "certs" / "a.pem").read_text(),
        os.readlink(copy / "link"),
        (copy / "gone").exists(),
    )
    assert got == ("127.0.0.1 one\n", "A", "/usr/share/zoneinfo/UTC", False)


def test_an_unchanged_host_reuses_the_copy(tmp_path: Path) -> None:
    """Asking twice without a change gives the same directory (no copy per command)."""
    root = tmp_path / "etc"
    root.mkdir()
    view = EtcView(_entries(root), root=root)
    assert view.path() == view.path()


def test_a_changed_host_entry_reaches_the_next_command(tmp_path: Path) -> None:
    """An edit of a host entry (new size and mtime) makes a fresh copy with the new content."""
    root = tmp_path / "etc"
    root.mkdir()
    view = EtcView(_entries(root), root=root)
    view.path()
    (root / "hosts").write_text("127.0.0.1 one two\n")
    assert (view.path() / "hosts").read_text() == "127.0.0.1 one two\n"


def test_close_removes_every_copy(tmp_path: Path) -> None:
    """close() removes the current copy and the ones replaced before it."""
    root = tmp_path / "etc"
    root.mkdir()
    view = EtcView(_entries(root), root=root)
    first = view.path()
    (root / "hosts").write_text("changed, longer\n")
    second = view.path()
    view.close()
    assert (first.exists(), second.exists()) == (False, False)


def test_sweep_removes_copies_of_dead_processes_only(tmp_path: Path) -> None:
    """A copy named for a pid that is gone is removed; this process's copy is kept."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{PREFIX}{dead.pid}-x"
    live = tmp_path / f"{PREFIX}{os.getpid()}-y"
    stale.mkdir()
    live.mkdir()
    removed = sweep_stale(tmp_path)
    assert (removed, live.exists()) == ([stale], True)
