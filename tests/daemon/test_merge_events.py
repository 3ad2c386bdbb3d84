"""MergeEvents: a push (or deployment) that merges a factory PR becomes an event about it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from factory.config.triggers import GithubTrigger
from factory.daemon.merge_events import MergeEvents, merged_pull
from factory.daemon.trust_gate import github_matches
from factory.forge.normalize import normalize
from factory.store import RunStore
from factory.store.records import EventRecord
from factory.testing.fake_github import FakeGitHub
from tests.forge.revert_helpers import BOT, World, add_accounts, merged_world

TRIGGER = GithubTrigger(event="push", branch="main", merges_factory_pr=True, include_factory=True)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGitHub]:
    """One FakeGitHub for the module with the bot and alice."""
    with FakeGitHub() as server:
        add_accounts(server)
        yield server


def _push_of(fake: FakeGitHub, world: World) -> dict[str, Any]:
    return next(
        p
        for event, p in reversed(fake.webhook_log)
        if event == "push" and p["repository"]["full_name"] == world.name
    )


def _stored(store: RunStore, name: str, payload: dict[str, Any], delivery: str) -> EventRecord:
    store.add_event(normalize(name, payload, delivery, bot_logins=[BOT]))
    return store.undispatched_events(limit=100)[-1]


def _absorbed(store: RunStore, world: World, record: EventRecord) -> list[EventRecord]:
    """Absorb ``record``; return the events stored after it."""
    MergeEvents(store, world.repo, BOT).absorb(record)
    return [r for r in store.undispatched_events(limit=100) if r.id > record.id]


def test_push_merging_a_factory_pr_stores_an_event_about_the_pull_request(
    fake: FakeGitHub, store: RunStore
) -> None:
    """The derived event's subject is the merged pull request, with its merge sha."""
    world = merged_world(fake)
    push = _push_of(fake, world)
    [derived] = _absorbed(store, world, _stored(store, "push", push, "d-1"))
    subject = derived.event.subject
    assert (subject.kind, subject.number, subject.sha) == (  # type: ignore[union-attr]
        "pull_request",
        world.number,
        push["after"],
    )


def test_derived_event_fires_a_merges_factory_pr_trigger(fake: FakeGitHub, store: RunStore) -> None:
    """merges_factory_pr fires on the derived event and not on the plain push."""
    world = merged_world(fake)
    record = _stored(store, "push", _push_of(fake, world), "d-2")
    [derived] = _absorbed(store, world, record)
    assert (github_matches(TRIGGER, record.event), github_matches(TRIGGER, derived.event)) == (
        False,
        True,
    )


def test_push_merging_a_persons_pr_derives_nothing(fake: FakeGitHub, store: RunStore) -> None:
    """A pull request alice opened, merged by the bot, is not the factory's: no event."""
    world = merged_world(fake, author="alice")
    assert _absorbed(store, world, _stored(store, "push", _push_of(fake, world), "d-3")) == []


def test_push_to_another_branch_derives_nothing(fake: FakeGitHub, store: RunStore) -> None:
    """Only a push to the default branch is a merge the verifier checks."""
    world = merged_world(fake)
    push = {**_push_of(fake, world), "ref": "refs/heads/release"}
    assert _absorbed(store, world, _stored(store, "push", push, "d-4")) == []


def test_absorbing_twice_stores_one_derived_event(fake: FakeGitHub, store: RunStore) -> None:
    """A re-dispatch after a crash finds the derived event by its dedup key."""
    world = merged_world(fake)
    record = _stored(store, "push", _push_of(fake, world), "d-5")
    MergeEvents(store, world.repo, BOT).absorb(record)
    assert len(_absorbed(store, world, record)) == 1


def test_successful_deployment_of_the_merge_carries_the_deploy_url(
    fake: FakeGitHub, store: RunStore
) -> None:
    """A deployment_status success on the merge sha derives an event with the deploy URL."""
    world = merged_world(fake)
    sha = _push_of(fake, world)["after"]
    payload = {
        "action": "created",
        "deployment_status": {"state": "success", "environment_url": "https://staging.example"},
        "deployment": {"sha": sha, "ref": "main", "environment": "staging"},
        "repository": {"full_name": world.name},
        "sender": {"login": "github-actions[bot]"},
    }
    [derived] = _absorbed(store, world, _stored(store, "deployment_status", payload, "d-6"))
    assert merged_pull(derived.event)["deploy_url"] == "https://staging.example"  # type: ignore[index]


def test_failed_deployment_derives_nothing(fake: FakeGitHub, store: RunStore) -> None:
    """Only a successful deployment is checked."""
    world = merged_world(fake)
    sha = _push_of(fake, world)["after"]
    payload = {
        "action": "created",
        "deployment_status": {"state": "failure"},
        "deployment": {"sha": sha},
        "repository": {"full_name": world.name},
        "sender": {"login": "github-actions[bot]"},
    }
    assert _absorbed(store, world, _stored(store, "deployment_status", payload, "d-7")) == []
