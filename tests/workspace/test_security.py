"""The daemon runs nothing an agent planted, and keeps the token out of files and logs."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from factory.errors import GitError
from factory.interfaces import Sandbox
from factory.sandbox import make_sandbox
from factory.workspace import Mirror, Workspace, Workspaces, export_patch, pull_ref
from factory.workspace.gitutil import github_auth_header
from tests.workspace.conftest import Remote, git

MakeWorkspaces = Callable[..., Workspaces]
TOKEN = "ghp_TopSecretToken1234567890"


def _arm_traps(ws: Workspace, marker: Path) -> None:
    """Plant everything that would run a command if host git touched this .git."""
    hook = f"#!/bin/sh\ntouch {marker}\n"
    hooks = ws.path / ".git" / "hooks"
    for name in ("post-checkout", "pre-commit", "post-index-change", "reference-transaction"):
        (hooks / name).write_text(hook)
        (hooks / name).chmod(0o755)
    git("config", "core.fsmonitor", f"touch {marker}; true", cwd=ws.path)
    git("config", "core.pager", f"touch {marker}; cat", cwd=ws.path)


@pytest.fixture
def trapped(make_workspaces: MakeWorkspaces, tmp_path: Path) -> tuple[Workspaces, Workspace, Path]:
    """A workspace whose .git an agent booby-trapped to touch a host marker file."""
    wss = make_workspaces()
    ws = wss.prepare("RUN1")
    marker = tmp_path / "host-marker"
    _arm_traps(ws, marker)
    (ws.path / "README.md").write_text("changed by agent\n")
    return wss, ws, marker


def test_traps_fire_under_plain_host_git(
    trapped: tuple[Workspaces, Workspace, Path],
) -> None:
    """Control: plain host git in the trapped workspace does run the agent's command."""
    _, ws, marker = trapped
    git("status", cwd=ws.path)
    assert marker.exists()


def test_export_and_release_run_nothing_on_host(
    trapped: tuple[Workspaces, Workspace, Path], sandbox: Sandbox
) -> None:
    """Exporting the patch and releasing a trapped workspace leaves the host marker absent."""
    wss, ws, marker = trapped
    patch = export_patch(ws, sandbox)
    wss.release(ws, failed=False)
    assert (b"changed by agent" in patch, marker.exists(), ws.path.exists()) == (
        True,
        False,
        False,
    )


def test_export_overrides_agent_hooks_even_unsandboxed(
    trapped: tuple[Workspaces, Workspace, Path],
) -> None:
    """With the explicit unsandboxed backend, export's git still skips hooks and fsmonitor."""
    _, ws, marker = trapped
    export_patch(ws, make_sandbox("none"))
    assert marker.exists() is False


def test_release_does_not_follow_agent_symlinks(
    make_workspaces: MakeWorkspaces, tmp_path: Path
) -> None:
    """A symlink the agent left pointing outside the workspace is removed, not its target."""
    wss = make_workspaces()
    ws = wss.prepare("RUN1")
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep\n")
    (ws.path / "link").symlink_to(outside)
    wss.release(ws, failed=False)
    assert (outside / "keep.txt").read_text() == "keep\n"


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink())


class _AuthGitHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a bare repository over git's dumb HTTP protocol, only with the right header."""

    expected = ""

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != self.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def http_remote(remote: Remote) -> Iterator[str]:
    """The remote served on 127.0.0.1 over dumb HTTP, demanding the token's auth header."""
    git("update-server-info", cwd=remote.bare)
    expected = github_auth_header(TOKEN).removeprefix("Authorization: ")

    class Handler(_AuthGitHandler):
        pass

    Handler.expected = expected

    def make(*args: Any) -> http.server.BaseHTTPRequestHandler:
        return Handler(*args, directory=str(remote.bare))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_over_http_uses_auth_header(data: Path, http_remote: str, remote: Remote) -> None:
    """A mirror given the token's auth header fetches from a remote that demands it."""
    m = Mirror(data, "acme/widgets", http_remote, auth_header=github_auth_header(TOKEN))
    m.fetch()
    assert m.resolve(pull_ref(1))[1] == remote.shas["pr1"]


def test_fetch_over_http_without_auth_fails(data: Path, http_remote: str) -> None:
    """Without the header the remote refuses, and git fails instead of prompting."""
    with pytest.raises(GitError):
        Mirror(data, "acme/widgets", http_remote).fetch()


def test_token_never_lands_in_mirror_or_workspace(data: Path, http_remote: str) -> None:
    """After fetch and prepare no file of the mirror or workspace holds the token or header."""
    header = github_auth_header(TOKEN)
    m = Mirror(data, "acme/widgets", http_remote, auth_header=lambda: header)
    m.fetch()
    ws = Workspaces(data, m).prepare("RUN1")
    content = _all_bytes(m.path) + _all_bytes(ws.path)
    assert (TOKEN.encode() in content, header.encode() in content) == (False, False)


def test_token_never_logged(data: Path, http_remote: str) -> None:
    """No log event emitted while fetching and preparing mentions the token or header."""
    header = github_auth_header(TOKEN)
    with capture_logs() as logs:
        m = Mirror(data, "acme/widgets", http_remote, auth_header=header)
        m.fetch()
        Workspaces(data, m).prepare("RUN1")
    text = repr(logs)
    assert (bool(logs), TOKEN in text, header in text) == (True, False, False)
