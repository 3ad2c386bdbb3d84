"""push_to_pull_request under kill -9: a retry finds what the crashed attempt pushed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from factory.crashpoints import CRASH_ENV
from factory.interfaces import Sandbox
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from tests.gitcmd import git

from .patch_helpers import (
    BOT_TOKEN,
    REPO,
    fake_fixture,  # noqa: F401  (fixture "fake")
)
from .pr_push_helpers import FIX, World, make_world, open_pull

WORKER = Path(__file__).with_name("pr_push_crash_worker.py")
POINTS = ["pr_after_push", "output_after_github:push_to_pull_request"]
SCOPE = "event-7:pr-shepherd"


@pytest.fixture
def world(fake: FakeGitHub, tmp_path: Path, store: RunStore, sandbox: Sandbox) -> World:
    """A factory pull request (the bot's factory/ branch) and its world."""
    return make_world(fake, tmp_path, store, sandbox, open_pull(fake))


def _crash(world: World, point: str) -> tuple[str, str]:
    """Run one push in the worker, killed at ``point``; return (run id, head it started on)."""
    run_id = world.new_run()
    ws = world.workspace(run_id)
    env = {**os.environ, CRASH_ENV: point, "FACTORYD_TEST_TOKEN": BOT_TOKEN}
    argv = [world.fake.api_url, world.fake.clone_url(REPO), str(world.store.path)]
    argv += [str(world.data), run_id, str(world.number), str(ws.path), ws.base_sha, SCOPE]
    done = subprocess.run(
        [sys.executable, str(WORKER), *argv], env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 9, done.stderr.decode()[-2000:]
    return run_id, ws.base_sha


def _factory_commits(world: World, since: str) -> int:
    out = git("rev-list", "--count", f"{since}..{world.head()}", cwd=world.fake.repo(REPO).git.path)
    return int(out)


def _retry(world: World, run_id: str) -> None:
    """The restarted daemon's retry: a new run with the same key scope, a fresh workspace."""
    retry = world.new_run()
    ws = world.workspace(retry)
    ctx = world.context(retry)
    ctx = type(ctx)(**{**ctx.__dict__, "key_scope": SCOPE})
    world.gate(ws).request(ctx, "push_to_pull_request", FIX)


def _reconcile(world: World, run_id: str) -> None:
    """The restarted daemon's reconcile of the crashed run's pending intent."""
    ctx = world.context(run_id)
    ctx = type(ctx)(**{**ctx.__dict__, "key_scope": SCOPE})
    world.gate(None).reconcile(ctx)


@pytest.mark.parametrize("point", POINTS)
def test_retry_after_kill_pushes_once(world: World, point: str) -> None:
    """A retried run after kill -9 makes no second commit on the branch."""
    run_id, started = _crash(world, point)
    _retry(world, run_id)
    assert _factory_commits(world, started) == 1


@pytest.mark.parametrize("point", POINTS)
def test_retry_after_kill_comments_once(world: World, point: str) -> None:
    """A retried run after kill -9 leaves exactly one push comment on the PR."""
    run_id, _ = _crash(world, point)
    _retry(world, run_id)
    assert sum("may not start CI" in body for body in world.comments()) == 1


@pytest.mark.parametrize("point", POINTS)
def test_reconcile_after_kill_pushes_once(world: World, point: str) -> None:
    """Reconcile on restart settles the pending push without a second commit."""
    run_id, started = _crash(world, point)
    _reconcile(world, run_id)
    assert _factory_commits(world, started) == 1


@pytest.mark.parametrize("point", POINTS)
def test_reconcile_after_kill_marks_the_push_applied(world: World, point: str) -> None:
    """Reconcile on restart records the crashed push as applied."""
    run_id, _ = _crash(world, point)
    _reconcile(world, run_id)
    assert [r.status for r in world.store.outputs_for_run(run_id)] == ["applied"]
