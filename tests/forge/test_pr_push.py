"""push_to_pull_request through the real gate: FakeGitHub, real git, the real sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.interfaces import Sandbox
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from tests.gitcmd import git

from .patch_helpers import (
    BOT,
    REPO,
    fake_fixture,  # noqa: F401  (fixture "fake")
)
from .pr_push_helpers import BRANCH, FIX, World, make_world, open_pull

SECRET = "ghp_CANARY0123456789abcdefSECRET"


@pytest.fixture
def world(fake: FakeGitHub, tmp_path: Path, store: RunStore, sandbox: Sandbox) -> World:
    """A factory pull request (the bot's factory/ branch) and its world."""
    return make_world(fake, tmp_path, store, sandbox, open_pull(fake))


def _world(fake: FakeGitHub, tmp_path: Path, store: RunStore, sandbox: Sandbox, **kw: str) -> World:
    return make_world(fake, tmp_path, store, sandbox, open_pull(fake, **kw))


def _message(world: World, sha: str) -> str:
    return git("log", "-1", "--format=%B", sha, cwd=world.fake.repo(REPO).git.path)


def test_allowed_push_moves_the_pull_request_head(world: World) -> None:
    """A push on a factory PR makes one commit on its head and the PR head moves to it."""
    before = world.head()
    decision = world.push()
    assert (decision.status, world.head() != before) == ("applied", True)


def test_pushed_commit_sits_on_the_head_the_run_started_from(world: World) -> None:
    """The new commit's parent is the head the workspace was checked out at."""
    before = world.head()
    world.push()
    parent = git("rev-parse", f"{world.head()}^", cwd=world.fake.repo(REPO).git.path)
    assert parent == before


def test_pushed_commit_carries_the_fix(world: World) -> None:
    """The branch's file is the agent's fixed version after the push."""
    world.push()
    text = git("show", f"{world.head()}:src/app.py", cwd=world.fake.repo(REPO).git.path)
    assert text == "print('hi')"


def test_push_comment_says_ci_may_not_start(world: World) -> None:
    """The PR gets one comment after the push that says a factory push may not start CI."""
    world.push()
    assert ["may not start CI" in body for body in world.comments()] == [True]


def test_quota_refuses_a_second_push_in_one_run(world: World) -> None:
    """max: 1 allows one push per run; a second, different request is refused."""
    run_id = world.new_run()
    ws = world.workspace(run_id)
    gate, ctx = world.gate(ws), world.context(run_id)
    gate.request(ctx, "push_to_pull_request", FIX)
    second = gate.request(ctx, "push_to_pull_request", {**FIX, "message": "Again"})
    assert (second.status, "quota reached" in second.reason) == ("refused", True)


def test_commit_message_is_sanitized(world: World) -> None:
    """Mentions and secrets in the commit message never reach the pushed commit."""
    run_id = world.new_run()
    ws = world.workspace(run_id)
    ctx = world.context(run_id)
    ctx = type(ctx)(**{**ctx.__dict__, "secrets": (SECRET,)})
    payload = {"message": f"Fix it @alice {SECRET}", "summary": "ok"}
    world.gate(ws).request(ctx, "push_to_pull_request", payload)
    message = _message(world, world.head())
    assert ("@alice" in message, SECRET in message) == (False, False)


def test_commit_message_ends_with_the_output_trailer(world: World) -> None:
    """The pushed commit names its output's key in a Factory-Output trailer."""
    world.push()
    assert _message(world, world.head()).splitlines()[-1].startswith("Factory-Output: ")


@pytest.mark.parametrize(
    ("kw", "why"),
    [
        pytest.param({"author": "alice"}, "not the factory", id="human-author"),
        pytest.param({"fork": "mallory/widgets"}, "fork", id="fork"),
        pytest.param(
            {"branch": "feature/faster"}, "not a factory/ branch", id="non-factory-branch"
        ),
    ],
)
def test_push_to_a_branch_the_factory_did_not_open_is_refused(
    fake: FakeGitHub,
    tmp_path: Path,
    store: RunStore,
    sandbox: Sandbox,
    kw: dict[str, str],
    why: str,
) -> None:
    """A person's PR, a fork's PR or a non-factory branch is refused with the reason."""
    world = _world(fake, tmp_path, store, sandbox, **kw)
    decision = world.push()
    assert (decision.status, why in decision.reason) == ("refused", True)


@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"author": "alice"}, id="human-author"),
        pytest.param({"fork": "mallory/widgets"}, id="fork"),
        pytest.param({"branch": "feature/faster"}, id="non-factory-branch"),
    ],
)
def test_push_refused_for_a_foreign_branch_leaves_the_head(
    fake: FakeGitHub, tmp_path: Path, store: RunStore, sandbox: Sandbox, kw: dict[str, str]
) -> None:
    """A refused push to a branch the factory did not open leaves that branch where it was."""
    world = _world(fake, tmp_path, store, sandbox, **kw)
    before = world.head()
    world.push()
    assert world.head() == before


def test_stale_head_is_refused(world: World) -> None:
    """A push whose PR head moved after the run started is refused as stale."""
    run_id = world.new_run()
    ws = world.workspace(run_id)
    world.fake.commit_files(REPO, BRANCH, {"docs/new.md": "x\n"}, "A person pushed")
    decision = world.gate(ws).request(world.context(run_id), "push_to_pull_request", FIX)
    assert (decision.status, "stale" in decision.reason) == ("refused", True)


def test_stale_head_push_does_not_move_the_branch(world: World) -> None:
    """After a stale refusal the branch is still at the person's newer commit."""
    run_id = world.new_run()
    ws = world.workspace(run_id)
    moved = world.fake.commit_files(REPO, BRANCH, {"docs/new.md": "x\n"}, "A person pushed")
    world.gate(ws).request(world.context(run_id), "push_to_pull_request", FIX)
    assert world.head() == moved


def test_protected_path_in_the_patch_is_refused(world: World) -> None:
    """The push goes through the patch policy: a change to CI config is refused."""
    decision = world.push({".github/workflows/ci.yml": "name: pwned\n"})
    assert (decision.status, "protected" in decision.reason) == ("refused", True)


def test_empty_workspace_change_is_refused(world: World) -> None:
    """A run that changed nothing has nothing to push."""
    decision = world.push({})
    assert (decision.status, "no change" in decision.reason) == ("refused", True)


def test_repeated_request_pushes_once(world: World) -> None:
    """The same request twice in one run makes one commit and one comment."""
    run_id = world.new_run()
    ws = world.workspace(run_id)
    gate, ctx = world.gate(ws), world.context(run_id)
    gate.request(ctx, "push_to_pull_request", FIX)
    head = world.head()
    again = gate.request(ctx, "push_to_pull_request", FIX)
    assert (again.duplicate, world.head(), len(world.comments())) == (True, head, 1)


def test_push_request_by_the_bot_needs_the_bot_login(
    fake: FakeGitHub, tmp_path: Path, store: RunStore, sandbox: Sandbox
) -> None:
    """Without a known factory login no PR counts as the factory's: the push is refused."""
    world = make_world(fake, tmp_path, store, sandbox, open_pull(fake))
    run_id = world.new_run()
    ws = world.workspace(run_id)
    ctx = world.context(run_id)
    ctx = type(ctx)(**{**ctx.__dict__, "bot_login": None})
    decision = world.gate(ws).request(ctx, "push_to_pull_request", FIX)
    assert decision.status == "refused"


def test_bot_login_is_the_fixture_bot() -> None:
    """The helpers open factory PRs as the same login the context names (guards the fixtures)."""
    assert BOT == "factory-bot"


def test_push_comment_summary_is_sanitized(world: World) -> None:
    """Mentions in the agent's summary are neutralized in the PR comment (nobody is pinged)."""
    world.push(payload={"message": "Fix", "summary": "Thanks @alice for the report"})
    assert ["@alice" in body for body in world.comments()] == [False]


def test_closed_pull_request_is_refused(world: World) -> None:
    """A push to a closed pull request is refused: it is not being shepherded any more."""
    world.fake.close_issue(REPO, world.number, as_user="alice")
    decision = world.push()
    assert (decision.status, "is closed" in decision.reason) == ("refused", True)


def test_staged_push_writes_nothing(world: World) -> None:
    """A staged push is recorded as would-have: the branch does not move."""
    before = world.head()
    outputs = {"push_to_pull_request": {"staged": True}}
    decision = world.push(outputs=outputs)
    assert (decision.status, world.head()) == ("staged", before)
