"""revert_pull_request under kill -9: the worker process dies at a crash point, the restarted
gate reconciles, and GitHub ends with exactly one revert pull request."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from factory.crashpoints import CRASH_ENV
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from tests.forge.revert_helpers import (
    BOT_TOKEN,
    World,
    add_accounts,
    context,
    gate,
    merged_world,
    reverts,
)

WORKER = Path(__file__).with_name("revert_crash_worker.py")
POINTS = [
    "output_after_intent:revert_pull_request",
    "output_after_github:revert_pull_request",
    "pr_after_push",
]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGitHub]:
    """One FakeGitHub for the module with the bot and alice."""
    with FakeGitHub() as server:
        add_accounts(server)
        yield server


def _crash(
    fake: FakeGitHub, world: World, store: RunStore, run_id: str, data: Path, at: str
) -> int:
    env = {**os.environ, CRASH_ENV: at, "FACTORYD_TEST_TOKEN": BOT_TOKEN}
    argv = [fake.api_url, world.name, fake.clone_url(world.name), str(store.path), run_id]
    argv += [str(data), str(world.number)]
    done = subprocess.run(
        [sys.executable, str(WORKER), *argv], env=env, capture_output=True, text=True, timeout=120
    )
    return done.returncode


@pytest.mark.parametrize("point", POINTS)
def test_reconcile_after_kill_leaves_one_revert_pull_request(
    fake: FakeGitHub, store: RunStore, tmp_path: Path, point: str
) -> None:
    """Killed before or after GitHub's reply, the reconciled run ends with one revert PR."""
    world = merged_world(fake)
    run_id = store.create_run("post-merge-verifier")
    code = _crash(fake, world, store, run_id, tmp_path / "crashed", point)
    [decision] = gate(fake, world, tmp_path / "restarted").reconcile(
        context(world, store, run_id=run_id)
    )
    assert (code, decision.status, len(reverts(fake, world))) == (9, "applied", 1)


def test_repeated_request_after_kill_writes_no_second_pull_request(
    fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """The retried run asking again after a kill past GitHub's reply gets the same revert."""
    world = merged_world(fake)
    run_id = store.create_run("post-merge-verifier")
    code = _crash(fake, world, store, run_id, tmp_path / "crashed", "output_after_github")
    again = gate(fake, world, tmp_path / "restarted").request(
        context(world, store, run_id=run_id),
        "revert_pull_request",
        {"pull_number": world.number, "reason": "smoke failed"},
    )
    assert (code, again.status, again.duplicate, len(reverts(fake, world))) == (
        9,
        "applied",
        True,
        1,
    )
