"""Approvals the factory applied for a maintainer: stored as events, counted at run time."""

from __future__ import annotations

from typing import Any

import pytest

from factory.daemon.trust_gate import subject_labels
from factory.daemon.vouch import record_vouches, vouched_labels, vouching_resolver
from factory.events import Event, Subject, Trust
from factory.store import RunStore

READY = {"factory:ready"}
BOT = "factory-bot"


def _slack_event(trust: Trust, actor: str = "U0MARA") -> Event:
    return Event(
        source="slack",
        kind="app_mention",
        dedup_key=f"slack:Ev-{trust}",
        subject=Subject(kind="slack", thread="C0BUGS/1712345678.000100"),
        actor=actor,
        trust=trust,
    )


def _applied(
    store: RunStore, run_id: str, kind: str, request: dict[str, Any], result: dict[str, Any]
) -> None:
    output_id, _ = store.record_output_intent(run_id, kind, f"{run_id}:{kind}:k", request)
    store.mark_output(output_id, "applied", result, "https://github.test/acme/x/issues/7")


def _run_that_filed(store: RunStore, trust: Trust, labels: list[str]) -> tuple[str, Event]:
    event = _slack_event(trust)
    event_id, _ = store.add_event(event)
    run_id = store.create_run("slack-intake", event_id=event_id, subject_key=event.subject_key)
    request = {"target": None, "payload": {"title": "t", "body": "b", "labels": labels}}
    _applied(store, run_id, "create_issue", request, {"number": 7})
    return run_id, event


def _approvals(store: RunStore) -> list[tuple[str | None, str, str | None, str]]:
    return [
        (r.event.subject_key, r.event.kind, r.event.actor, r.event.trust)
        for r in store.subject_events("issue:7", ["issues.labeled"])
    ]


def test_a_maintainers_run_that_filed_a_ready_issue_records_one_approval(store: RunStore) -> None:
    """The approval is stored as the maintainer's issues.labeled event on the new issue."""
    run_id, event = _run_that_filed(store, "maintainers", ["bug", "factory:ready"])
    record_vouches(store, store.get_run(run_id), event, READY)
    assert _approvals(store) == [("issue:7", "issues.labeled", "U0MARA", "maintainers")]


def test_recording_twice_stores_the_approval_once(store: RunStore) -> None:
    """A second call (a retry, a recovery) finds the approval by its dedup key."""
    run_id, event = _run_that_filed(store, "maintainers", ["factory:ready"])
    first = record_vouches(store, store.get_run(run_id), event, READY)
    second = record_vouches(store, store.get_run(run_id), event, READY)
    assert (len(first), second, len(_approvals(store))) == (1, [], 1)


@pytest.mark.parametrize("trust", ["collaborators", "anyone"])
def test_a_run_no_maintainer_caused_vouches_for_nothing(store: RunStore, trust: Trust) -> None:
    """Even if an approval label got on the issue, a less trusted cause records no approval."""
    run_id, event = _run_that_filed(store, trust, ["factory:ready"])
    assert (record_vouches(store, store.get_run(run_id), event, READY), _approvals(store)) == (
        [],
        [],
    )


def test_labels_that_do_not_approve_are_not_vouched(store: RunStore) -> None:
    """Only approval labels become approval events."""
    run_id, event = _run_that_filed(store, "maintainers", ["bug", "factory:triage"])
    assert record_vouches(store, store.get_run(run_id), event, READY) == []


def test_added_labels_are_vouched_on_their_target(store: RunStore) -> None:
    """An add_labels output approves the issue it targeted."""
    event = _slack_event("maintainers")
    event_id, _ = store.add_event(event)
    run_id = store.create_run("x", event_id=event_id)
    request = {"target": 7, "payload": {"labels": ["factory:ready"]}}
    _applied(store, run_id, "add_labels", request, {})
    record_vouches(store, store.get_run(run_id), event, READY)
    assert vouched_labels(store, "issue:7") == {"factory:ready"}


def test_an_output_that_was_refused_is_not_vouched(store: RunStore) -> None:
    """Only applied outputs count: a refused or pending one approves nothing."""
    event = _slack_event("maintainers")
    event_id, _ = store.add_event(event)
    run_id = store.create_run("x", event_id=event_id)
    request = {"target": 7, "payload": {"labels": ["factory:ready"]}}
    store.record_output_intent(run_id, "add_labels", "k-pending", request)
    assert record_vouches(store, store.get_run(run_id), event, READY) == []


def test_an_ordinary_labeled_event_is_not_a_vouch(store: RunStore) -> None:
    """A maintainer's own labeled delivery (no ``vouched``) does not make the bot trusted."""
    store.add_event(
        Event(
            source="github",
            kind="issues.labeled",
            dedup_key="gh:1",
            subject=Subject(kind="issue", number=7),
            trust="maintainers",
            payload={"label": {"name": "factory:ready"}},
        )
    )
    assert vouched_labels(store, "issue:7") == set()


def test_resolver_trusts_the_bot_only_for_vouched_labels(store: RunStore) -> None:
    """The factory's login counts as a maintainer for a vouched label, nobody else changes."""
    run_id, event = _run_that_filed(store, "maintainers", ["factory:ready"])
    record_vouches(store, store.get_run(run_id), event, READY)
    plain: dict[str, Trust] = {BOT: "collaborators", "otto": "anyone"}
    vouched = vouching_resolver(store, "issue:7", ["factory:ready"], BOT, plain.__getitem__)
    other = vouching_resolver(store, "issue:7", ["factory:other"], BOT, plain.__getitem__)
    elsewhere = vouching_resolver(store, "issue:8", ["factory:ready"], BOT, plain.__getitem__)
    assert (vouched("Factory-Bot"), vouched("otto"), other(BOT), elsewhere(BOT)) == (
        "maintainers",
        "anyone",
        "collaborators",
        "collaborators",
    )


def test_the_approval_carries_the_labels_the_output_put_on_the_issue(store: RunStore) -> None:
    """The vouched event's issue lists the output's labels, so label filters see ``bug``."""
    run_id, event = _run_that_filed(store, "maintainers", ["bug", "factory:ready"])
    record_vouches(store, store.get_run(run_id), event, READY)
    [approval] = store.subject_events("issue:7", ["issues.labeled"])
    assert subject_labels(approval.event.payload) == {"bug", "factory:ready"}
