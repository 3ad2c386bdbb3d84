"""Closing the loop with Sentry, by the daemon: a merge resolves the Sentry issue, a regression
reopens the GitHub issue and runs the builder again — against FakeGitHub and FakeSentry with
the real clients, a real store and the real Dispatcher."""

from __future__ import annotations

import pytest

from factory.config.loader import FactoryConfig
from factory.config.sentry_policy import SentryPolicy
from factory.events import Event, Subject
from factory.sources.sentry import webhook_event
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_sentry import FakeSentry
from tests.daemon.sentry_loop_world import (
    BOT,
    READY,
    World,
    config_fixture,
    github_fixture,
    make_world,
    next_key,
    put_calls,
    sentry_fixture,
    world_fixture,
)

github = pytest.fixture(scope="module", name="github")(github_fixture)
sentry = pytest.fixture(name="sentry")(sentry_fixture)
config = pytest.fixture(name="config")(config_fixture)
world = pytest.fixture(name="world")(world_fixture)


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
                dedup_key=next_key(),
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
    assert [(d.automation, d.status) for d in decisions] == [("incident-responder", "queued")]


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


def test_reentry_puts_back_the_label_the_factory_took_off(world: World) -> None:
    """The builder takes its ready label off once its PR is open; a regression puts it back
    (vouched as the maintainer's approval) and the builder runs again."""
    world.github.remove_label(world.name, 1, READY, as_user=BOT)
    world.merge()
    world.tick()
    world.regress()
    world.tick()
    decisions = world.tick()
    labels = {label.name for label in world.repo.get_issue(1).labels}
    vouched = [
        r.event.payload.get("vouched") is not None
        for r in world.store.subject_events("issue:1", ["issues.labeled"])
        if "reentered" in r.event.payload
    ]
    assert (READY in labels, vouched, [(d.automation, d.status) for d in decisions]) == (
        True,
        [True],
        [("builder", "queued")],
    )
