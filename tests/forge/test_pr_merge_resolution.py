"""A conflicted merge in the run's workspace; the agent's resolution pushed as the merge commit."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.errors import WorkspaceError
from factory.forge.outputs import OutputDecision
from factory.forge.pr_merge_base import merge_base_into
from factory.interfaces import Sandbox
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from factory.workspace import Workspaces, pull_ref
from factory.workspace.merge_workspace import MergeWorkspace, conflicted_workspace
from tests.gitcmd import git

from .patch_helpers import (
    IDENTITY,
    REPO,
    fake_fixture,  # noqa: F401  (fixture "fake")
)
from .pr_push_helpers import BRANCH, FIX, World, make_world, open_pull

RESOLVED = "print('hello, hi')\n"


@pytest.fixture
def world(fake: FakeGitHub, tmp_path: Path, store: RunStore, sandbox: Sandbox) -> World:
    """A factory PR whose src/app.py conflicts with main's; main also changed a docs file."""
    made = make_world(fake, tmp_path, store, sandbox, open_pull(fake))
    fake.commit_files(REPO, "main", {"docs/extra.md": "From main.\n"}, "Docs")
    fake.commit_files(REPO, "main", {"src/app.py": "print('hello')\n"}, "Greeting")
    return made


def _main(world: World) -> str:
    return world.fake.repo(REPO).git.resolve("refs/heads/main") or ""


def _merge_workspace(world: World, run_id: str) -> MergeWorkspace:
    world.context(run_id).repo.get_pull(world.number)
    world.mirror.fetch()
    ws = Workspaces(world.data, world.mirror).prepare(run_id, pull_ref(world.number))
    return conflicted_workspace(ws, _main(world))


def _resolve(world: World, files: dict[str, str]) -> OutputDecision:
    run_id = world.new_run()
    ws = _merge_workspace(world, run_id)
    for name, text in files.items():
        (ws.path / name).parent.mkdir(parents=True, exist_ok=True)
        (ws.path / name).write_text(text)
    return world.gate(ws).request(world.context(run_id), "push_to_pull_request", FIX)


def _show(world: World, spec: str) -> str:
    return git("show", spec, cwd=world.fake.repo(REPO).git.path)


def test_merge_workspace_lists_the_conflicted_files(world: World) -> None:
    """The conflicted merge workspace names the one file both sides changed."""
    assert _merge_workspace(world, world.new_run()).conflicts == ("src/app.py",)


def test_merge_workspace_holds_the_conflict_markers(world: World) -> None:
    """The conflicted file in the workspace carries both sides between conflict markers."""
    text = (_merge_workspace(world, world.new_run()).path / "src/app.py").read_text()
    assert (text.startswith("<<<<<<< "), "print('hi'" in text, "print('hello')" in text) == (
        True,
        True,
        True,
    )


def test_merge_workspace_has_the_base_clean_changes(world: World) -> None:
    """The base's non-conflicting change is already in the workspace (the agent need not)."""
    path = _merge_workspace(world, world.new_run()).path / "docs/extra.md"
    assert path.read_text() == "From main.\n"


def test_clean_pair_is_not_a_merge_workspace(world: World, fake: FakeGitHub) -> None:
    """A base that merges cleanly gives no merge workspace (nothing for an agent)."""
    fake.commit_files(REPO, BRANCH, {"src/app.py": "print('hello')\n"}, "Take main's")
    with pytest.raises(WorkspaceError, match="does not conflict"):
        _merge_workspace(world, world.new_run())


def test_resolution_is_pushed_as_a_merge_of_head_and_base(world: World) -> None:
    """The pushed head is a commit whose parents are the old head, then main."""
    head, main = world.head(), _main(world)
    decision = _resolve(world, {"src/app.py": RESOLVED})
    parents = git("rev-list", "--parents", "-n1", world.head(), cwd=world.fake.repo(REPO).git.path)
    assert (decision.status, parents.split()[1:]) == ("applied", [head, main])


def test_resolution_commit_holds_the_resolved_file(world: World) -> None:
    """The merge commit's conflicted file is the agent's resolution."""
    _resolve(world, {"src/app.py": RESOLVED})
    assert _show(world, f"{world.head()}:src/app.py") == RESOLVED.strip()


def test_resolution_commit_keeps_the_base_clean_changes(world: World) -> None:
    """The merge commit keeps main's non-conflicting change."""
    _resolve(world, {"src/app.py": RESOLVED})
    assert _show(world, f"{world.head()}:docs/extra.md") == "From main."


def test_resolution_makes_the_pull_request_mergeable(world: World) -> None:
    """After the push GitHub calls the pull request mergeable again."""
    _resolve(world, {"src/app.py": RESOLVED})
    pull = world.context("x").repo.get_pull(world.number)
    assert pull.mergeable is True


def test_resolution_touching_a_file_that_did_not_conflict_is_refused(world: World) -> None:
    """The agent may change only the conflicted files; a change elsewhere is refused."""
    decision = _resolve(world, {"src/app.py": RESOLVED, "docs/extra.md": "Mine.\n"})
    assert (decision.status, "only the conflicted files" in (decision.reason or "")) == (
        "refused",
        True,
    )


def test_refused_resolution_leaves_the_head(world: World) -> None:
    """A refused resolution pushes nothing."""
    head = world.head()
    _resolve(world, {"src/app.py": RESOLVED, "README.md": "Mine.\n"})
    assert world.head() == head


def test_resolution_that_leaves_conflict_markers_is_refused(world: World) -> None:
    """A conflicted file still holding a conflict marker is refused."""
    left = "<<<<<<< ours\nprint('hi'\n=======\nprint('hello')\n>>>>>>> theirs\n"
    decision = _resolve(world, {"src/app.py": left + "# edited\n"})
    assert (decision.status, "conflict markers" in (decision.reason or "")) == ("refused", True)


def test_daemon_merge_commit_carries_the_key_trailer(world: World, fake: FakeGitHub) -> None:
    """A clean merge by the daemon names its key in a Factory-Output trailer (found on retry)."""
    fake.commit_files(REPO, BRANCH, {"src/app.py": "print('hello')\n"}, "Take main's")
    world.mirror.fetch()
    outcome = merge_base_into(
        mirror=world.mirror,
        branch=BRANCH,
        head_sha=world.head(),
        base_ref="main",
        identity=IDENTITY,
        data_dir=world.data,
        run_id="merge-1",
        auth_header=None,
        key="merge_base:1:abc",
    )
    message = git("log", "-1", "--format=%B", outcome.sha or "", cwd=fake.repo(REPO).git.path)
    assert message.splitlines()[-1] == "Factory-Output: merge_base:1:abc"
