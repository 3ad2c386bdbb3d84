"""Per-run checkouts made from the mirror."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from factory.errors import WorkspaceError
from factory.interfaces import Sandbox
from factory.workspace import Mirror, Workspaces, pull_ref, ref_for_mode
from tests.workspace.conftest import Remote, git

MakeWorkspaces = Callable[..., Workspaces]


def _files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_prepare_default_branch_files(make_workspaces: MakeWorkspaces) -> None:
    """With no ref, the workspace holds the default branch's files."""
    ws = make_workspaces().prepare("RUN1")
    assert _files(ws.path) == {"README.md", "src/app.py", "docs/old.txt"}


def test_prepare_default_branch_base_sha_and_ref(
    make_workspaces: MakeWorkspaces, remote: Remote
) -> None:
    """With no ref, the workspace records the default branch and its head sha."""
    ws = make_workspaces().prepare("RUN1")
    assert (ws.ref, ws.base_sha) == ("refs/heads/main", remote.shas["main"])


def test_prepare_default_branch_is_checked_out_on_branch(make_workspaces: MakeWorkspaces) -> None:
    """The default-branch workspace is on a local branch of the same name."""
    ws = make_workspaces().prepare("RUN1")
    assert git("symbolic-ref", "HEAD", cwd=ws.path) == "refs/heads/main"


def test_prepare_pull_request_head(make_workspaces: MakeWorkspaces, remote: Remote) -> None:
    """A PR workspace holds the PR head's files and records the PR head sha."""
    ws = make_workspaces().prepare("RUN1", pull_ref(1))
    assert (ws.ref, ws.base_sha, (ws.path / "pr.txt").read_text()) == (
        "refs/pull/1/head",
        remote.shas["pr1"],
        "from the PR\n",
    )


def test_prepare_branch_by_name(make_workspaces: MakeWorkspaces, remote: Remote) -> None:
    """A branch name resolves to that branch's head."""
    ws = make_workspaces().prepare("RUN1", "feature")
    assert (ws.ref, ws.base_sha) == ("refs/heads/feature", remote.shas["feature"])


def test_prepare_sha_is_detached(make_workspaces: MakeWorkspaces, remote: Remote) -> None:
    """A commit sha checks out that commit on a detached HEAD."""
    ws = make_workspaces().prepare("RUN1", remote.shas["first"])
    assert (ws.base_sha, git("rev-parse", "--symbolic-full-name", "HEAD", cwd=ws.path)) == (
        remote.shas["first"],
        "HEAD",
    )


@pytest.mark.parametrize(
    ("mode", "number", "expected"),
    [("default-branch", None, None), ("pull-request", 7, "refs/pull/7/head")],
    ids=["default-branch", "pull-request"],
)
def test_ref_for_mode(mode: str, number: int | None, expected: str | None) -> None:
    """Each checkout mode maps to the ref prepare() takes."""
    assert ref_for_mode(mode, pull_number=number) == expected


@pytest.mark.parametrize(
    ("mode", "number"), [("none", None), ("pull-request", None)], ids=["none", "no-number"]
)
def test_ref_for_mode_rejects(mode: str, number: int | None) -> None:
    """Mode none, or a pull-request mode without a number, is a ValueError."""
    with pytest.raises(ValueError, match="mode"):
        ref_for_mode(mode, pull_number=number)


def test_prepare_lives_under_data_workspaces(make_workspaces: MakeWorkspaces, data: Path) -> None:
    """The workspace is <data>/workspaces/<run_id>."""
    ws = make_workspaces().prepare("RUN1")
    assert ws.path == data / "workspaces" / "RUN1"


def test_prepare_unknown_ref_leaves_nothing(make_workspaces: MakeWorkspaces, data: Path) -> None:
    """An unknown ref raises WorkspaceError and no workspace directory is left behind."""
    with pytest.raises(WorkspaceError, match="refs/pull/42/head"):
        make_workspaces().prepare("RUN1", pull_ref(42))
    assert not (data / "workspaces" / "RUN1").exists()


def test_prepare_same_run_twice_raises(make_workspaces: MakeWorkspaces) -> None:
    """A second prepare for the same run id raises WorkspaceError naming the run."""
    wss = make_workspaces()
    wss.prepare("RUN1")
    with pytest.raises(WorkspaceError, match="RUN1"):
        wss.prepare("RUN1")


@pytest.mark.parametrize("run_id", ["../escape", "a/b", "", ".hidden"], ids=repr)
def test_prepare_rejects_unsafe_run_id(make_workspaces: MakeWorkspaces, run_id: str) -> None:
    """A run id that is not a plain name is refused."""
    with pytest.raises(ValueError, match="run id"):
        make_workspaces().prepare(run_id)


def test_workspace_has_no_alternates(make_workspaces: MakeWorkspaces) -> None:
    """The checkout does not borrow objects from the mirror (no alternates file)."""
    ws = make_workspaces().prepare("RUN1")
    assert not (ws.path / ".git" / "objects" / "info" / "alternates").exists()


def _inodes(root: Path) -> set[tuple[int, int]]:
    out = set()
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            st = p.stat()
            out.add((st.st_dev, st.st_ino))
    return out


def test_two_workspaces_and_mirror_share_no_file(
    make_workspaces: MakeWorkspaces, mirror: Mirror
) -> None:
    """No file (object packs included) is shared by inode between two workspaces or the mirror."""
    wss = make_workspaces()
    a, b = wss.prepare("RUN1"), wss.prepare("RUN2")
    ia, ib, im = _inodes(a.path), _inodes(b.path), _inodes(mirror.path)
    assert (ia & ib, ia & im, ib & im) == (set(), set(), set())


def test_overwriting_objects_in_one_workspace_leaves_the_other_intact(
    make_workspaces: MakeWorkspaces,
) -> None:
    """Corrupting every object file of one workspace leaves the other workspace's repo valid."""
    wss = make_workspaces()
    a, b = wss.prepare("RUN1"), wss.prepare("RUN2")
    for p in (a.path / ".git" / "objects").rglob("*"):
        if p.is_file():
            os.chmod(p, 0o644)
            p.write_bytes(b"garbage")
    git("fsck", "--strict", "--no-dangling", cwd=b.path)
    assert git("rev-parse", "HEAD", cwd=b.path) == b.base_sha


def test_git_works_in_sandbox_that_sees_only_the_workspace(
    make_workspaces: MakeWorkspaces, sandbox: Sandbox
) -> None:
    """git inside the sandbox (workspace bound elsewhere) reads the checkout's history."""
    ws = make_workspaces().prepare("RUN1")
    result = sandbox.exec(
        ["git", "-c", "safe.directory=*", "log", "--format=%H", "-n", "1", ws.base_sha],
        workspace=ws.path,
        env={"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"},
    )
    assert (result.exit_code, result.stdout.strip()) == (0, ws.base_sha), result.stderr


def test_agent_can_commit_in_sandbox(make_workspaces: MakeWorkspaces, sandbox: Sandbox) -> None:
    """The workspace carries a committer identity, so the agent's own git commit works."""
    ws = make_workspaces().prepare("RUN1")
    result = sandbox.exec(
        ["git", "-c", "safe.directory=*", "commit", "-q", "--allow-empty", "-m", "agent"],
        workspace=ws.path,
        env={"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"},
    )
    assert result.exit_code == 0, result.stderr


def test_concurrent_prepares_and_fetch_all_succeed(
    make_workspaces: MakeWorkspaces, mirror: Mirror, remote: Remote
) -> None:
    """Workspaces prepared from several threads while the mirror fetches are all complete."""
    wss = make_workspaces()
    remote.commit({"later.txt": "later\n"}, "later", "main")
    with ThreadPoolExecutor(max_workers=4) as pool:
        fetched = pool.submit(mirror.fetch)
        prepared = [pool.submit(wss.prepare, f"RUN{i}") for i in range(4)]
        fetched.result()
        shas = {
            git("rev-parse", "HEAD", cwd=f.result().path) == f.result().base_sha for f in prepared
        }
    assert shas == {True}
