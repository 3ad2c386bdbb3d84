"""Exporting the agent's change as a patch from inside the sandbox."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from factory.errors import WorkspaceError
from factory.interfaces import Sandbox
from factory.workspace import Workspace, Workspaces, export_patch
from tests.workspace.conftest import GIT_ENV, Remote, git

MakeWorkspaces = Callable[..., Workspaces]

BINARY = bytes(range(256)) * 4


def _agent_edits(root: Path) -> None:
    """What an agent might do: edit, add (text, binary, non-UTF-8, nested), delete."""
    (root / "src" / "app.py").write_text("print('v3')\n")
    (root / "new" / "deep").mkdir(parents=True)
    (root / "new" / "deep" / "module.py").write_text("x = 1\n")
    (root / "logo.bin").write_bytes(BINARY)
    (root / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (root / "docs" / "old.txt").unlink()


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def _apply_in_fresh_clone(remote: Remote, base_sha: str, patch: bytes, dest: Path) -> None:
    git("clone", "-q", str(remote.bare), str(dest), cwd=dest.parent)
    git("checkout", "-q", "--detach", base_sha, cwd=dest)
    subprocess.run(
        ["git", "apply", "--index", "--whitespace=nowarn", "-"],
        cwd=dest,
        env=GIT_ENV,
        input=patch,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def ws(make_workspaces: MakeWorkspaces) -> Workspace:
    """A prepared default-branch workspace."""
    return make_workspaces().prepare("RUN1")


def test_patch_applies_cleanly_in_fresh_clone(
    ws: Workspace, sandbox: Sandbox, remote: Remote, tmp_path: Path
) -> None:
    """An edit, new text/binary/non-UTF-8 files and a deletion round-trip through git apply."""
    _agent_edits(ws.path)
    patch = export_patch(ws, sandbox)
    _apply_in_fresh_clone(remote, ws.base_sha, patch, tmp_path / "applied")
    assert _tree(tmp_path / "applied") == _tree(ws.path)


def test_patch_includes_agent_commits(
    ws: Workspace, sandbox: Sandbox, remote: Remote, tmp_path: Path
) -> None:
    """Changes the agent committed itself are in the patch, relative to the base commit."""
    _agent_edits(ws.path)
    git("add", "-A", cwd=ws.path)
    git("commit", "-q", "-m", "agent commit", cwd=ws.path)
    (ws.path / "after-commit.txt").write_text("more\n")
    patch = export_patch(ws, sandbox)
    _apply_in_fresh_clone(remote, ws.base_sha, patch, tmp_path / "applied")
    assert _tree(tmp_path / "applied") == _tree(ws.path)


def test_patch_leaves_out_ignored_files(ws: Workspace, sandbox: Sandbox) -> None:
    """Files matched by .gitignore (build output) are not exported."""
    (ws.path / ".gitignore").write_text("build/\n")
    (ws.path / "build").mkdir()
    (ws.path / "build" / "out.o").write_bytes(b"\0obj")
    patch = export_patch(ws, sandbox)
    assert (b"b/.gitignore" in patch, b"out.o" in patch) == (True, False)


def test_unchanged_workspace_gives_empty_patch(ws: Workspace, sandbox: Sandbox) -> None:
    """A workspace the agent did not change exports as an empty patch."""
    assert export_patch(ws, sandbox) == b""


def test_patch_ignores_agent_diff_config(
    ws: Workspace, sandbox: Sandbox, remote: Remote, tmp_path: Path
) -> None:
    """Agent-set diff config (no prefix, external diff, colour, renames) does not bend the patch."""
    for key, value in {
        "diff.noprefix": "true",
        "diff.mnemonicPrefix": "true",
        "diff.external": "/bin/false",
        "color.ui": "always",
        "diff.renames": "copies",
    }.items():
        git("config", key, value, cwd=ws.path)
    _agent_edits(ws.path)
    (ws.path / "README.md").rename(ws.path / "README.txt")
    patch = export_patch(ws, sandbox)
    _apply_in_fresh_clone(remote, ws.base_sha, patch, tmp_path / "applied")
    assert _tree(tmp_path / "applied") == _tree(ws.path)


def test_patch_leaves_agent_index_alone(ws: Workspace, sandbox: Sandbox) -> None:
    """Exporting does not stage anything in the workspace's own index."""
    (ws.path / "untracked.txt").write_text("u\n")
    export_patch(ws, sandbox)
    assert git("status", "--porcelain", cwd=ws.path) == "?? untracked.txt"


def test_patch_over_limit_raises(ws: Workspace, sandbox: Sandbox) -> None:
    """A patch larger than max_patch_bytes raises WorkspaceError naming the run."""
    (ws.path / "big.txt").write_text("line\n" * 20_000)
    with pytest.raises(WorkspaceError, match=r"RUN1.*larger"):
        export_patch(ws, sandbox, max_patch_bytes=10_000)


def test_broken_repository_raises(ws: Workspace, sandbox: Sandbox) -> None:
    """If the agent destroyed .git, exporting raises WorkspaceError naming the run."""
    for p in sorted((ws.path / ".git").rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    with pytest.raises(WorkspaceError, match="RUN1"):
        export_patch(ws, sandbox)
