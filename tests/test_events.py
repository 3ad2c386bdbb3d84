"""The Event model and its helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from factory.events import TRUST_ORDER, Event, Subject, parse_subject_key, subject_key


@pytest.mark.parametrize(
    ("subject", "key"),
    [
        (Subject(kind="issue", number=12), "issue:12"),
        (Subject(kind="pull_request", number=7), "pull_request:7"),
        (Subject(kind="commit", sha="abc123"), "commit:abc123"),
        (
            Subject(kind="slack", thread="C123ABC/1712345678.000100"),
            "slack:C123ABC/1712345678.000100",
        ),
        (Subject(kind="sentry", sentry_id="1170820242"), "sentry:1170820242"),
        (Subject(kind="none"), None),
        (None, None),
    ],
    ids=["issue", "pull_request", "commit", "slack", "sentry", "none", "missing"],
)
def test_subject_key(subject: Subject | None, key: str | None) -> None:
    """subject_key names a subject by kind and number or sha."""
    assert subject_key(subject) == key


@pytest.mark.parametrize("thread", [None, "", "C123", "C123/abc", "x/1712345678.000100"])
def test_slack_subject_key_needs_a_channel_and_thread_ts(thread: str | None) -> None:
    """A slack subject without a well-formed ``CHANNEL/THREAD_TS`` has no key: ValueError."""
    with pytest.raises(ValueError, match="needs a thread"):
        subject_key(Subject(kind="slack", thread=thread))


def test_subject_key_needs_a_number() -> None:
    """An issue subject without a number has no key: ValueError."""
    with pytest.raises(ValueError, match="needs a number"):
        subject_key(Subject(kind="issue"))


@pytest.mark.parametrize(
    "key",
    [
        "issue:12",
        "pull_request:7",
        "commit:abc123",
        "slack:D0LAN2Q65/1712345678.000100",
        "sentry:42",
    ],
)
def test_parse_subject_key_round_trips(key: str) -> None:
    """parse_subject_key reverses subject_key."""
    assert subject_key(parse_subject_key(key)) == key


@pytest.mark.parametrize(
    "key",
    [
        "issue",
        "issue:",
        "issue:x",
        "gist:3",
        "slack:C123",
        "slack:c123/1.2",
        "slack:C1/../x",
        "sentry:",
        "sentry:abc",
    ],
    ids=str,
)
def test_parse_subject_key_refuses_bad_keys(key: str) -> None:
    """Malformed keys raise ValueError naming the key."""
    with pytest.raises(ValueError, match="subject key"):
        parse_subject_key(key)


def test_event_refuses_unknown_fields() -> None:
    """Event is strict: an unknown field is a validation error."""
    with pytest.raises(ValidationError, match="colour"):
        Event.model_validate({"source": "github", "kind": "push", "dedup_key": "d", "colour": 1})


def test_event_refuses_unknown_source() -> None:
    """Only the five known sources are accepted."""
    with pytest.raises(ValidationError, match="source"):
        Event.model_validate({"source": "email", "kind": "x", "dedup_key": "d"})


def test_received_at_is_converted_to_utc() -> None:
    """An aware received_at in another zone is stored as the same instant in UTC."""
    local = datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    event = Event(source="manual", kind="run", dedup_key="d", received_at=local)
    assert (event.received_at, event.received_at.tzinfo) == (
        datetime(2026, 1, 1, 12, tzinfo=UTC),
        UTC,
    )


def test_naive_received_at_is_taken_as_utc() -> None:
    """A naive received_at is read as UTC."""
    event = Event(source="manual", kind="run", dedup_key="d", received_at=datetime(2026, 1, 1))
    assert event.received_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_event_subject_key_property() -> None:
    """Event.subject_key gives its subject's key."""
    event = Event(
        source="github",
        kind="pull_request.opened",
        dedup_key="d",
        subject=Subject(kind="pull_request", number=3),
    )
    assert event.subject_key == "pull_request:3"


@pytest.mark.parametrize(
    ("trust", "required", "ok"),
    [
        ("maintainers", "collaborators", True),
        ("collaborators", "maintainers", False),
        ("anyone", "anyone", True),
        ("data", "anyone", False),
    ],
    ids=["above", "below", "equal", "data-is-lowest"],
)
def test_trust_order(trust: str, required: str, ok: bool) -> None:
    """TRUST_ORDER orders data < anyone < collaborators < maintainers."""
    assert (TRUST_ORDER[trust] >= TRUST_ORDER[required]) is ok
