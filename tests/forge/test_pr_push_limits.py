"""push_to_pull_request stops after N attempts per head and per PR, then asks a human once."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.events import Event, Subject
from factory.interfaces import Sandbox
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub

from .patch_helpers import (
    REPO,
    fake_fixture,  # noqa: F401  (fixture "fake")
)
from .pr_push_helpers import World, make_world, open_pull

BAD = {".github/workflows/ci.yml": "name: pwned\n"}
"""A change the patch policy refuses: the push is tried (an attempt) and does not land."""
LIMITS = {"push_to_pull_request": {"max": 1, "max_attempts_per_head": 3, "max_attempts_per_pr": 6}}


@pytest.fixture
def world(fake: FakeGitHub, tmp_path: Path, store: RunStore, sandbox: Sandbox) -> World:
    """A factory pull request (the bot's factory/ branch) and its world."""
    return make_world(fake, tmp_path, store, sandbox, open_pull(fake))


def _needs_human_comments(world: World) -> int:
    return sum("stopped trying" in body for body in world.comments())


def test_third_attempt_on_a_head_is_still_tried(world: World) -> None:
    """Attempts one to three on one head reach the patch policy (not the attempt limit)."""
    reasons = [world.push(BAD, outputs=LIMITS).reason for _ in range(3)]
    assert ["attempt limit" in r for r in reasons] == [False, False, False]


def test_fourth_attempt_on_a_head_is_refused(world: World) -> None:
    """After three attempts on one head the fourth is refused by the attempt limit."""
    for _ in range(3):
        world.push(BAD, outputs=LIMITS)
    decision = world.push(outputs=LIMITS)
    assert (decision.status, "attempt limit" in decision.reason) == ("refused", True)


def test_attempt_limit_labels_needs_human(world: World) -> None:
    """Reaching the limit puts the policy's needs-human label on the pull request."""
    for _ in range(4):
        world.push(BAD, outputs=LIMITS)
    assert "needs-human" in world.fake.labels_of(REPO, world.number)


def test_attempt_limit_comments_once(world: World) -> None:
    """Two refusals by the limit post one summary comment, not two."""
    for _ in range(5):
        world.push(BAD, outputs=LIMITS)
    assert _needs_human_comments(world) == 1


def test_attempt_limit_leaves_the_head(world: World) -> None:
    """A push refused by the limit does not move the branch, even with a good change."""
    for _ in range(3):
        world.push(BAD, outputs=LIMITS)
    before = world.head()
    world.push(outputs=LIMITS)
    assert world.head() == before


def test_new_head_gets_fresh_attempts(world: World) -> None:
    """Attempts count per head: after a person's push the shepherd may try again."""
    for _ in range(3):
        world.push(BAD, outputs=LIMITS)
    world.fake.commit_files(
        REPO, world.fake.pull(REPO, world.number).head_ref, {"docs/x.md": "x\n"}
    )
    decision = world.push(outputs=LIMITS)
    assert decision.status == "applied"


def test_per_pr_limit_counts_every_head(world: World) -> None:
    """With two attempts per PR, a third on a new head is refused by the PR's limit."""
    limits = {"push_to_pull_request": {"max_attempts_per_head": 3, "max_attempts_per_pr": 2}}
    world.push(outputs=limits)  # lands: the head moves
    world.push({"src/app.py": "print('hello')\n"}, outputs=limits)  # lands again
    decision = world.push({"src/app.py": "print('hey')\n"}, outputs=limits)
    assert (decision.status, "attempt limit" in decision.reason) == ("refused", True)


def test_gate_refusals_are_not_attempts(world: World) -> None:
    """Requests the gate refuses before the performer (bad schema) do not use attempts."""
    for _ in range(4):
        world.push(payload={"message": ""}, outputs=LIMITS)
    assert world.push(outputs=LIMITS).status == "applied"


def _pushless_run(
    world: World, head: str | None, automation: str = "pr-shepherd", status: str = "succeeded"
) -> None:
    """Record a finished run on the PR that never asked to push; its event names ``head``
    (a failed check suite on it) or nothing (a sweep tick)."""
    payload = {"check_suite": {"head_sha": head, "conclusion": "failure"}} if head else {}
    event = Event(
        source="github" if head else "schedule",
        kind="check_suite.completed" if head else "schedule.tick",
        dedup_key=f"test:{automation}:{len(world.store.list_runs(limit=500))}",
        subject=Subject(kind="pull_request", number=world.number),
        payload=payload,
    )
    event_id, _ = world.store.add_event(event)
    run_id = world.store.create_run(
        automation, event_id=event_id, subject_key=f"pull_request:{world.number}"
    )
    world.store.start_run(run_id, holder="test")
    world.store.finish_run(run_id, status)


def test_pushless_runs_on_the_head_count_as_attempts(world: World) -> None:
    """Three finished runs on the head that never asked to push use up its three attempts."""
    for _ in range(3):
        _pushless_run(world, world.head())
    decision = world.push(outputs=LIMITS)
    assert (decision.status, "attempt limit" in decision.reason) == ("refused", True)


def test_pushless_failed_run_counts_as_an_attempt(world: World) -> None:
    """A run that failed without a push request is an attempt on its head too."""
    for status in ("failed", "succeeded", "failed"):
        _pushless_run(world, world.head(), status=status)
    assert "attempt limit" in world.push(outputs=LIMITS).reason


def test_pushless_runs_on_another_head_do_not_count_on_this_one(world: World) -> None:
    """Runs that gave up on an older head leave the new head's attempts alone."""
    for _ in range(3):
        _pushless_run(world, "0" * 40)
    assert world.push(outputs=LIMITS).status == "applied"


def test_pushless_runs_of_another_automation_do_not_count(world: World) -> None:
    """A reviewer's runs on the PR are not the shepherd's attempts."""
    for _ in range(3):
        _pushless_run(world, world.head(), automation="pr-reviewer")
    assert world.push(outputs=LIMITS).status == "applied"


def test_pushless_sweep_runs_count_for_the_pull_request(world: World) -> None:
    """Sweep runs name no head: six of them use up the PR's six attempts."""
    for _ in range(6):
        _pushless_run(world, None)
    decision = world.push(outputs=LIMITS)
    assert (decision.status, "attempt limit" in decision.reason) == ("refused", True)


def test_pushless_sweep_runs_do_not_count_on_the_head(world: World) -> None:
    """Three sweep runs (no head named) leave the head's three attempts alone."""
    for _ in range(3):
        _pushless_run(world, None)
    assert world.push(outputs=LIMITS).status == "applied"
