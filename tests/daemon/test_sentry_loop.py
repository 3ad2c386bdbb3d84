"""Closing the loop with Sentry, by the daemon: a merge resolves the Sentry issue, a regression
reopens the GitHub issue and runs the builder again, at most ``max_reopens`` times — against
FakeGitHub and FakeSentry with the real clients, a real store and the real Dispatcher."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github
from github.Repository import Repository
from pydantic import SecretStr

from factory.config.harness import Policy
from factory.config.loader import FactoryConfig, load_factory
from factory.config.sentry_policy import SentryPolicy
from factory.crashpoints import CRASH_ENV
from factory.daemon.dispatch import Decision, Dispatcher, absorb_all
from factory.daemon.process import Daemon
from factory.daemon.sentry_loop import SentryLoop
from factory.events import Event, Subject
from factory.forge.outputs import CRASH_AFTER_GITHUB
from factory.sentry.client import SentryClient
from factory.sources.sentry import webhook_event
from factory.store import EventRecord, RunStore
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_sentry import FakeSentry
from tests.daemon.conftest import Factory

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("sentry_loop_crash_worker.py")
BOT, BOT_TOKEN = "factory-bot", "t-sentry-loop-bot"
READY, NEEDS_HUMAN = "factory:ready", "needs-human"
RESPONDER = (
    "name: responder\non:\n  - sentry: {}\nsubject: sentry\ntrust: anyone\n"
    "workspace: none\nprompt: File it.\n"
)
_repos = itertools.count(1)
_keys = itertools.count(1)


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    """One FakeGitHub per module with the bot and alice (a maintainer)."""
    with FakeGitHub() as server:
        server.add_user(BOT, token=BOT_TOKEN, permission="write")
        server.add_user("alice", token="t-alice-sl", permission="admin")
        yield server


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    """A fresh FakeSentry."""
    with FakeSentry() as fake:
        yield fake


@pytest.fixture
def config(tmp_path: Path) -> FactoryConfig:
    """The shipped automations (the builder) plus a minimal Sentry responder."""
    folder = Path(shutil.copytree(ROOT / "automations", tmp_path / "automations"))
    (folder / "responder.yaml").write_text(RESPONDER)
    return load_factory(folder, Path(shutil.copytree(ROOT / "harness", tmp_path / "harness")))


@dataclass
class World:
    """A Sentry issue with its GitHub issue #1 (approved by alice), the loop and dispatch."""

    github: FakeGitHub
    sentry: FakeSentry
    repo: Repository
    store: RunStore
    loop: SentryLoop
    dispatcher: Dispatcher
    issue_id: str
    client: SentryClient
    next_pr: int = 5

    @property
    def name(self) -> str:
        """The repository's full name."""
        return self.repo.full_name

    def store_event(self, event: Event) -> EventRecord:
        """Store ``event`` and return its record."""
        event_id, _ = self.store.add_event(event)
        return self.store.get_event(event_id)

    def tick(self) -> list[Decision]:
        """Dispatch what is stored and perform the loop's intents, as the daemon's tick does."""
        decisions = self.dispatcher.dispatch_pending()
        self.loop.perform_pending()
        return decisions

    def merge(self, body: str = "Closes #1", merged: bool | None = True) -> int:
        """Store a pull request's opening and its merge; return its number."""
        number, self.next_pr = self.next_pr, self.next_pr + 1
        pull = {
            "number": number,
            "title": "Fix division",
            "body": body,
            "html_url": f"https://github.example/{self.name}/pull/{number}",
        }
        for action in ("opened", "closed"):
            extra = {"merged": merged} if action == "closed" and merged is not None else {}
            self.store_event(
                Event(
                    source="github",
                    kind=f"pull_request.{action}",
                    dedup_key=f"gh-{next(_keys)}",
                    subject=Subject(kind="pull_request", number=number),
                    payload={"action": action, "pull_request": {**pull, **extra}},
                )
            )
        return number

    def regress(self) -> EventRecord:
        """Close #1 (if open), make the Sentry issue regress and store its unresolved webhook."""
        if self.github.issue(self.name, 1).state == "open":
            self.github.close_issue(self.name, 1, as_user="alice")
        if self.sentry.issue_state(self.issue_id)["status"] != "resolved":
            self.sentry.resolve(self.issue_id, in_next_release=True)
        self.sentry.regress(self.issue_id)
        body = self.sentry.webhook_body("issue", "unresolved", self.issue_id)
        event = webhook_event("issue", body, str(uuid.uuid4()))
        assert event is not None
        return self.store_event(event)

    def comments(self) -> list[str]:
        """The bodies of #1's comments."""
        return [c.body for c in self.github.issue(self.name, 1).comments]

    def builder_runs(self) -> list[str]:
        """Ids of the builder's runs, queued or not."""
        return [r.id for r in self.store.list_runs(automation="builder", limit=100)]


def make_world(
    github: FakeGitHub,
    sentry: FakeSentry,
    store: RunStore,
    config: FactoryConfig,
    *,
    sentry_policy: SentryPolicy | None = None,
    client: bool = True,
) -> World:
    """Issue #1 filed from a fresh Sentry issue, labelled ready by alice (stored too)."""
    name = f"acme/sentry-loop-{next(_repos)}"
    github.create_repo(name)
    issue_id = sentry.add_issue(release="1.2.0")
    github.create_issue(name, "ZeroDivisionError in calc", f"sentry-issue: {issue_id}", as_user=BOT)
    github.add_labels(name, 1, READY, as_user="alice")
    gh = Github(
        base_url=github.api_url,
        auth=Auth.Token(BOT_TOKEN),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    repo = gh.get_repo(name)
    store.add_link(f"sentry:{issue_id}", "issue:1")
    policy: Policy = config.policy
    if sentry_policy is not None:
        policy = policy.model_copy(update={"sentry": sentry_policy})
    sentry_client = SentryClient(sentry.api_url, sentry.token, sentry.org)
    loop = SentryLoop(store, repo, sentry_client if client else None, lambda: policy)
    dispatcher = Dispatcher(store, lambda: config)
    dispatcher.absorb = absorb_all(loop.absorb)
    world = World(github, sentry, repo, store, loop, dispatcher, issue_id, sentry_client)
    world.store_event(
        Event(
            source="github",
            kind="issues.labeled",
            dedup_key=f"gh-{next(_keys)}",
            subject=Subject(kind="issue", number=1),
            actor="alice",
            trust="maintainers",
            payload={
                "label": {"name": READY},
                "issue": {
                    "title": "ZeroDivisionError in calc",
                    "body": f"sentry-issue: {issue_id}",
                },
            },
        )
    )
    world.tick()  # the maintainer's approval starts the first builder run
    return world


@pytest.fixture
def world(github: FakeGitHub, sentry: FakeSentry, store: RunStore, config: FactoryConfig) -> World:
    """The default world (resolve on merge, two reopenings)."""
    return make_world(github, sentry, store, config)


def put_calls(sentry: FakeSentry, issue_id: str) -> int:
    """How many PUTs the issue received."""
    return sum(1 for c in sentry.calls if c[0] == "PUT" and c[1].rstrip("/").endswith(issue_id))


# -- merge → resolve ----------------------------------------------------------------------------


def test_merge_of_linked_pr_resolves_sentry_issue_in_next_release(world: World) -> None:
    """A merged PR closing the Sentry-linked issue resolves the Sentry issue in the next release."""
    world.merge()
    world.tick()
    state = world.sentry.issue_state(world.issue_id)
    assert (state["status"], state["statusDetails"]) == ("resolved", {"inNextRelease": True})


def test_resolution_note_links_the_pull_request(world: World) -> None:
    """The resolution leaves one note on the Sentry issue naming the merged PR's URL."""
    number = world.merge()
    world.tick()
    [note] = world.sentry.issue_state(world.issue_id)["comments"]
    assert f"https://github.example/{world.name}/pull/{number}" in note


def test_pr_opened_links_the_sentry_issue_to_the_pull_request(world: World) -> None:
    """A PR closing the Sentry-linked issue is linked issue:1 → pull_request:M."""
    number = world.merge()
    world.tick()
    assert world.store.sentry_issue_of(f"pull_request:{number}") == world.issue_id


def test_pr_closing_an_unlinked_issue_is_not_linked(world: World) -> None:
    """A PR that closes an issue with no Sentry (or Slack) origin makes no link."""
    number = world.merge(body="Closes #7")
    world.tick()
    assert world.store.issues_of_pull(number) == []


def test_merge_performed_again_resolves_and_notes_once(world: World) -> None:
    """Performing a resolution whose row is back at intent (a crash before the mark) finds the
    status and the note: one PUT, one note."""
    world.merge()
    world.tick()
    [row] = [r for r in world.store.followups_of_thread(f"sentry:{world.issue_id}")]
    world.store.mark_followup(row.id, "intent")
    world.loop.perform_pending()
    state = world.sentry.issue_state(world.issue_id)
    assert (put_calls(world.sentry, world.issue_id), len(state["comments"])) == (1, 1)


def test_merge_seen_twice_is_one_resolution(world: World) -> None:
    """The same merge absorbed again (a dispatch repeated after a crash) is one resolution:
    one row, one PUT."""
    number = world.merge()
    world.tick()
    for record in world.store.subject_events(f"pull_request:{number}", ["pull_request.closed"]):
        world.loop.absorb(record)
    world.loop.perform_pending()
    rows = world.store.followups_of_thread(f"sentry:{world.issue_id}")
    assert (len(rows), put_calls(world.sentry, world.issue_id)) == (1, 1)


def test_unmerged_close_resolves_nothing(world: World) -> None:
    """A PR closed without merging leaves the Sentry issue unresolved."""
    world.merge(merged=False)
    world.tick()
    assert world.sentry.issue_state(world.issue_id)["status"] == "unresolved"


def test_resolve_on_merge_off_leaves_the_issue_unresolved(
    github: FakeGitHub, sentry: FakeSentry, store: RunStore, config: FactoryConfig
) -> None:
    """With ``resolve_on_merge: false`` a merge changes nothing on Sentry."""
    world = make_world(
        github, sentry, store, config, sentry_policy=SentryPolicy(resolve_on_merge=False)
    )
    world.merge()
    world.tick()
    status = world.sentry.issue_state(world.issue_id)["status"]
    assert (status, put_calls(world.sentry, world.issue_id)) == ("unresolved", 0)


def test_poller_close_without_merged_field_asks_github(world: World) -> None:
    """A closed PR event without ``merged`` is checked on GitHub: unmerged, it resolves nothing."""
    world.github.commit_files(world.name, "fix", {"fix.txt": "x\n"}, "Fix")
    pull = world.github.create_pull(world.name, "fix", "Fix", "Closes #1", as_user="alice")
    for action in ("opened", "closed"):
        world.store_event(
            Event(
                source="github",
                kind=f"pull_request.{action}",
                dedup_key=f"gh-{next(_keys)}",
                subject=Subject(kind="pull_request", number=pull.number),
                payload={"pull_request": {"number": pull.number, "body": "Closes #1"}},
            )
        )
    world.tick()
    [row] = world.store.followups_of_thread(f"sentry:{world.issue_id}")
    assert (row.status, world.sentry.issue_state(world.issue_id)["status"]) == (
        "failed",
        "unresolved",
    )


# -- regression → reopen --------------------------------------------------------------------------


def test_regression_reopens_the_closed_issue(world: World) -> None:
    """A Sentry regression of a resolved issue reopens its closed GitHub issue."""
    world.merge()
    world.tick()
    world.regress()
    world.tick()
    assert world.github.issue(world.name, 1).state == "open"


def test_regression_comment_gives_count_release_and_link(world: World) -> None:
    """The reopening comment names the new event count, the release and the Sentry issue."""
    world.merge()
    world.tick()
    world.regress()
    world.tick()
    state = world.sentry.issue_state(world.issue_id)
    [comment] = world.comments()
    said = (f"{state['count']} events in all" in comment, "release 1.2.0+next" in comment)
    assert (said, f"[{state['shortId']}](" in comment) == ((True, True), True)


def test_regression_starts_no_responder_run(world: World) -> None:
    """The regression of a Sentry issue that has its GitHub issue starts no responder run."""
    world.merge()
    world.tick()
    record = world.regress()
    world.tick()
    assert world.store.runs_of_event(record.id) == []


def test_regression_of_an_unfiled_sentry_issue_goes_to_the_responder(world: World) -> None:
    """A regression of a Sentry issue with no GitHub issue is left to dispatch (the responder)."""
    other = world.sentry.add_issue(title="KeyError: 'rate'")
    world.sentry.resolve(other)
    world.sentry.regress(other)
    event = webhook_event("issue", world.sentry.webhook_body("issue", "unresolved", other), "req-1")
    assert event is not None
    decisions = world.dispatcher.dispatch(world.store_event(event))
    assert [(d.automation, d.status) for d in decisions] == [("responder", "queued")]


def test_regression_runs_the_builder_again(world: World) -> None:
    """After the reopening the next dispatch queues a builder run on #1, without the sweep."""
    world.merge()
    world.tick()
    world.regress()
    world.tick()
    decisions = world.tick()
    assert [(d.automation, d.status) for d in decisions] == [("builder", "queued")]


def test_reentry_repeats_the_maintainers_approval(world: World) -> None:
    """The event that re-enters the loop carries alice's approval: her login and trust."""
    world.merge()
    world.tick()
    world.regress()
    world.tick()
    [record] = [
        r
        for r in world.store.subject_events("issue:1", ["issues.labeled"])
        if "reentered" in r.event.payload
    ]
    assert (record.event.actor, record.event.trust, record.event.by_factory) == (
        "alice",
        "maintainers",
        False,
    )


def test_regression_while_the_issue_is_open_comments_without_reentry(world: World) -> None:
    """A regression of an issue still open gets a comment and starts no second builder run."""
    world.sentry.resolve(world.issue_id)
    world.sentry.regress(world.issue_id)
    body = world.sentry.webhook_body("issue", "unresolved", world.issue_id)
    event = webhook_event("issue", body, "req-open")
    assert event is not None
    before = world.builder_runs()
    world.store_event(event)
    world.tick()
    world.tick()
    assert (len(world.comments()), world.builder_runs()) == (1, before)


def test_regression_dispatched_twice_comments_once(world: World) -> None:
    """The same regression absorbed twice (a dispatch repeated after a crash) is one comment."""
    world.merge()
    world.tick()
    record = world.regress()
    world.tick()
    world.loop.absorb(record)
    world.tick()
    assert len(world.comments()) == 1


def test_reentry_waits_when_the_issue_lost_its_approval(world: World) -> None:
    """An issue whose approval label was taken off is reopened but not re-entered."""
    world.merge()
    world.tick()
    world.github.remove_label(world.name, 1, READY, as_user="alice")
    world.regress()
    world.tick()
    assert world.tick() == []


# -- the limit ---------------------------------------------------------------------------------


def cycle(world: World) -> list[Decision]:
    """Merge a fix, let it regress, and return what the following dispatch decided."""
    world.merge()
    world.tick()
    world.regress()
    world.tick()
    return world.tick()


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
