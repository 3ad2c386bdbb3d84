"""The Event model: something that happened, normalized, plus small helpers around it.

Every source (GitHub, Sentry, Slack, schedule, manual) turns what it sees into an
``Event``; the store keeps it under its unique ``dedup_key`` before it is acknowledged.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Source = Literal["github", "sentry", "slack", "schedule", "manual"]
Trust = Literal["maintainers", "collaborators", "anyone", "data"]
SubjectKind = Literal["issue", "pull_request", "commit", "slack", "sentry", "none"]

_SLACK_THREAD = re.compile(r"[CDG][A-Z0-9]{2,}/[0-9]{6,}\.[0-9]{6}")
"""A Slack thread in a subject key: channel id (C, D or G), '/', the thread's parent ts."""

TRUST_ORDER: dict[str, int] = {"data": 0, "anyone": 1, "collaborators": 2, "maintainers": 3}
"""Trust levels from least to most trusted; ``data`` never causes code changes."""


def utcnow() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


class Subject(BaseModel):
    """What an event (and the runs it causes) is about."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SubjectKind
    """issue, pull_request, commit, slack (a Slack thread), sentry (a Sentry issue), or none."""
    number: int | None = None
    """Issue or pull request number, for those kinds."""
    sha: str | None = None
    """Commit sha, for commits (or a pull request's head)."""
    thread: str | None = None
    """A Slack thread as ``CHANNEL/THREAD_TS`` (e.g. ``C123/1712345678.000100``), for slack."""
    sentry_id: str | None = None
    """The Sentry issue id (digits, e.g. ``"1170820242"``), for sentry."""
    title: str | None = None
    """Issue/PR title or commit summary, when known."""
    url: str | None = None
    """Web address of the subject, when known."""


class Event(BaseModel):
    """One thing that happened, normalized from any source."""

    model_config = ConfigDict(extra="forbid")

    source: Source
    """Where the event came from."""
    kind: str = Field(min_length=1)
    """What happened, e.g. "issues.labeled", "sentry.issue", "schedule.tick"."""
    dedup_key: str = Field(min_length=1)
    """Unique per real-world occurrence; redeliveries carry the same key."""
    subject: Subject | None = None
    """What the event is about, if anything."""
    actor: str | None = None
    """Login or name of whoever caused the event, if known."""
    trust: Trust = "anyone"
    """How far the actor is trusted; ``data`` (Sentry) never causes code changes."""
    by_factory: bool = False
    """True when the event was caused by the factory's own writes."""
    payload: dict[str, Any] = Field(default_factory=dict)
    """The source's raw payload (or the relevant part of it)."""
    received_at: datetime = Field(default_factory=utcnow)
    """When the factory received the event (UTC)."""

    @field_validator("received_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @property
    def subject_key(self) -> str | None:
        """The subject's key (see ``subject_key``), or None when there is no subject."""
        return subject_key(self.subject)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are taken to be UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def subject_key(subject: Subject | None) -> str | None:
    """Return the key that names a subject: "issue:12", "pull_request:7", "commit:<sha>",
    "slack:C123/1712345678.000100", "sentry:1170820242".

    Returns None for no subject and for a subject of kind ``none``.
    Raises ValueError if the subject lacks the number or sha its kind needs.
    """
    if subject is None or subject.kind == "none":
        return None
    if subject.kind == "commit":
        if not subject.sha:
            raise ValueError("a commit subject needs a sha")
        return f"commit:{subject.sha}"
    if subject.kind == "slack":
        if not subject.thread or not _SLACK_THREAD.fullmatch(subject.thread):
            raise ValueError("a slack subject needs a thread 'CHANNEL/THREAD_TS'")
        return f"slack:{subject.thread}"
    if subject.kind == "sentry":
        if not subject.sentry_id or not subject.sentry_id.isdigit():
            raise ValueError("a sentry subject needs a numeric sentry_id")
        return f"sentry:{subject.sentry_id}"
    if subject.number is None:
        raise ValueError(f"a {subject.kind} subject needs a number")
    return f"{subject.kind}:{subject.number}"


def parse_subject_key(key: str) -> Subject:
    """Return the Subject (kind and number or sha only) named by a key like "issue:12".

    Raises ValueError for a key that is not "<kind>:<number|sha>" with a known kind.
    """
    kind, sep, rest = key.partition(":")
    if not sep or not rest:
        raise ValueError(f"subject key {key!r} is not '<kind>:<id>'")
    if kind == "commit":
        return Subject(kind="commit", sha=rest)
    if kind == "slack":
        if not _SLACK_THREAD.fullmatch(rest):
            raise ValueError(f"subject key {key!r} needs 'CHANNEL/THREAD_TS' after ':'")
        return Subject(kind="slack", thread=rest)
    if kind == "sentry":
        if not rest.isdigit():
            raise ValueError(f"subject key {key!r} needs a Sentry issue id after ':'")
        return Subject(kind="sentry", sentry_id=rest)
    if kind in ("issue", "pull_request"):
        if not rest.isdigit():
            raise ValueError(f"subject key {key!r} needs a number after ':'")
        return Subject(kind=kind, number=int(rest))
    raise ValueError(f"subject key {key!r} has unknown kind {kind!r}")
