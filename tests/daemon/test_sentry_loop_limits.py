"""The Sentry loop's limit (``max_reopens``, then ``needs-human``), its crash safety (kill -9
between a write and its record) and its wiring into the daemon's dispatcher and tick."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from factory.config.loader import FactoryConfig
from factory.config.sentry_policy import SentryPolicy
from factory.crashpoints import CRASH_ENV
from factory.daemon.dispatch import absorb_all
from factory.daemon.process import Daemon
from factory.events import Event, Subject
from factory.forge.outputs import CRASH_AFTER_GITHUB
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_sentry import FakeSentry
from tests.daemon.conftest import Factory
from tests.daemon.sentry_loop_world import (
    BOT_TOKEN,
    NEEDS_HUMAN,
    READY,
    World,
    config_fixture,
    cycle,
    github_fixture,
    make_world,
    put_calls,
    sentry_fixture,
    world_fixture,
)

WORKER = Path(__file__).with_name("sentry_loop_crash_worker.py")

github = pytest.fixture(scope="module", name="github")(github_fixture)
sentry = pytest.fixture(name="sentry")(sentry_fixture)
config = pytest.fixture(name="config")(config_fixture)
world = pytest.fixture(name="world")(world_fixture)


# -- the limit ---------------------------------------------------------------------------------


def test_third_regression_after_two_reopenings_gets_needs_human(world: World) -> None:
    """With max_reopens 2, the third regression reopens #1 and labels it needs-human."""
    cycle(world)
    cycle(world)
    cycle(world)
    issue = world.github.issue(world.name, 1)
    assert (issue.state, NEEDS_HUMAN in world.github.labels_of(world.name, 1)) == ("open", True)


def test_third_regression_does_not_run_the_builder(world: World) -> None:
    """The regression past the limit queues no builder run; the first two each queued one."""
    queued = [[d.automation for d in cycle(world)] for _ in range(3)]
    assert queued == [["builder"], ["builder"], []]


def test_third_regression_comment_says_why(world: World) -> None:
    """The comment of the regression past the limit says a person is needed and why."""
    for _ in range(3):
        cycle(world)
    last = world.comments()[-1]
    assert ("needs a person" in last, "at most 2 regressions" in last) == (True, True)


def test_second_regression_does_not_get_needs_human(world: World) -> None:
    """The second regression (within the limit) leaves #1 with its approval and no needs-human."""
    cycle(world)
    cycle(world)
    assert world.github.labels_of(world.name, 1) == [READY]


def test_max_reopens_zero_sends_the_first_regression_to_a_person(
    github: FakeGitHub, sentry: FakeSentry, store: RunStore, config: FactoryConfig
) -> None:
    """With ``max_reopens: 0`` the first regression already gets needs-human."""
    world = make_world(github, sentry, store, config, sentry_policy=SentryPolicy(max_reopens=0))
    assert (cycle(world), NEEDS_HUMAN in github.labels_of(world.name, 1)) == ([], True)


# -- composition ---------------------------------------------------------------------------------


def test_absorb_all_asks_every_absorber_and_answers_any() -> None:
    """absorb_all calls each absorber (none skipped) and answers True if one did."""
    seen: list[str] = []

    def first(record: Any) -> bool:
        seen.append("first")
        return True

    def second(record: Any) -> bool:
        seen.append("second")
        return False

    absorb = absorb_all(first, None, second)
    assert absorb is not None
    assert (absorb(None), seen) == (True, ["first", "second"])


# -- crash between the write and the local commit --------------------------------------------------


@pytest.mark.parametrize(
    "crash_at",
    [
        f"{CRASH_AFTER_GITHUB}:sentry_resolve",
        f"{CRASH_AFTER_GITHUB}:sentry_resolve:comment",
        f"{CRASH_AFTER_GITHUB}:sentry_regression",
    ],
)
def test_crash_after_the_write_writes_nothing_twice(crash_at: str, world: World) -> None:
    """kill -9 right after Sentry/GitHub answered, then perform again: one PUT, one note, one
    comment, every row applied, and the builder still re-entered."""
    world.merge()
    if crash_at.endswith("sentry_regression"):
        world.tick()
        world.regress()
    world.dispatcher.dispatch_pending()
    env = {**os.environ, CRASH_ENV: crash_at, "FACTORYD_TEST_TOKEN": BOT_TOKEN}
    argv = [world.github.api_url, world.name, world.sentry.api_url, world.sentry.token]
    done = subprocess.run(
        [sys.executable, str(WORKER), *argv, str(world.store.path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 9, done.stderr
    world.tick()
    decisions = world.tick()
    state = world.sentry.issue_state(world.issue_id)
    rows = world.store.followups_of_thread(f"sentry:{world.issue_id}")
    expected_comments = 1 if crash_at.endswith("sentry_regression") else 0
    expected_runs = [("builder", "queued")] if expected_comments else []
    assert (
        put_calls(world.sentry, world.issue_id),
        len(state["comments"]),
        len(world.comments()),
        {r.status for r in rows},
        [(d.automation, d.status) for d in decisions],
    ) == (1, 1, expected_comments, {"applied"}, expected_runs)


# -- the daemon wires it -----------------------------------------------------------------------


def test_daemon_tick_resolves_on_merge(factory: Factory, sentry: FakeSentry) -> None:
    """The daemon's own dispatcher and tick run the loop: a stored merge of a PR closing a
    Sentry-linked issue resolves the Sentry issue."""
    settings = factory.settings.model_copy(
        update={
            "sentry_auth_token": SecretStr(sentry.token),
            "sentry_org": sentry.org,
            "sentry_api_url": sentry.api_url,
        }
    )
    daemon = Daemon(settings, background=False)
    daemon.start()
    try:
        issue_id = sentry.add_issue()
        daemon.store.add_link(f"sentry:{issue_id}", f"issue:{factory.world.bug}")
        pull = {"number": 40, "body": f"Fixes #{factory.world.bug}", "merged": True}
        daemon.store.add_event(
            Event(
                source="github",
                kind="pull_request.closed",
                dedup_key="gh-daemon-merge",
                subject=Subject(kind="pull_request", number=40),
                payload={"action": "closed", "pull_request": pull},
            )
        )
        daemon.tick()
        assert sentry.issue_state(issue_id)["status"] == "resolved"
    finally:
        daemon.shutdown()


def test_pending_followups_by_kind_keeps_the_writers_apart(store: RunStore) -> None:
    """Each writer asks only for its own kinds: a Sentry resolution is not a Slack update."""
    store.record_followup_intent("k-slack", "slack_update", "C1/1.0", "issue:1", {"text": "x"})
    store.record_followup_intent("k-sentry", "sentry_resolve", "sentry:1", "pull_request:2", {})
    mine = store.pending_followups(kinds=["slack_update", "issue_comment"])
    assert [r.key for r in mine] == ["k-slack"]
