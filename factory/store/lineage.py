"""Lineage: which subjects grew out of which (Slack thread or Sentry issue → issue → pull
request), and the daemon's follow-ups, recorded intent first.

A link is ``from_key → to_key`` between subject keys (``slack:C1/1712.000100`` →
``issue:12`` → ``pull_request:15``), stored once per pair with the run, output or event that
made it. The Slack thread of a pull request is found through its issue; a thread's issue is
the newest issue linked from it.

A follow-up is one message the daemon (not a model) writes because of a transition: an
update in a thread (``kind="slack_update"``) or a thread reply turned into an issue comment
(``kind="issue_comment"``). Its ``key`` is unique, so deciding the same transition twice
makes one row; the row is ``intent`` until the write is done (``applied``) or given up
(``failed``), and a row left at ``intent`` by a crash is found again before it is retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from factory.errors import StoreError
from factory.events import utcnow
from factory.store.base import StoreBase
from factory.store.redaction import redact_json, redact_text
from factory.store.tables import FOLLOWUP_STATUSES, followups, subject_links

SLACK_PREFIX = "slack:"
SENTRY_PREFIX = "sentry:"


@dataclass(frozen=True)
class SubjectLink:
    """One stored link between two subject keys, and what made it."""

    id: int
    from_key: str
    to_key: str
    run_id: str | None
    output_id: int | None
    event_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class FollowupRecord:
    """One follow-up the daemon decided to write."""

    id: int
    key: str
    kind: str
    thread: str
    target_key: str
    request: Any
    status: str
    url: str | None
    error: str | None
    event_id: int | None
    created_at: datetime
    updated_at: datetime


class LineageLog(StoreBase):
    """Methods on the subject_links and followups tables."""

    # -- links --------------------------------------------------------------------------

    def add_link(
        self,
        from_key: str,
        to_key: str,
        *,
        run_id: str | None = None,
        output_id: int | None = None,
        event_id: int | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Record ``from_key → to_key``; return True if new, False if it was already stored.

        Raises ValueError when both keys are the same.
        """
        if from_key == to_key:
            raise ValueError(f"subject {from_key!r} cannot be linked to itself")
        with self._write() as conn:
            found = conn.execute(
                select(subject_links.c.id).where(
                    subject_links.c.from_key == from_key, subject_links.c.to_key == to_key
                )
            ).first()
            if found is not None:
                return False
            conn.execute(
                subject_links.insert().values(
                    from_key=from_key,
                    to_key=to_key,
                    run_id=run_id,
                    output_id=output_id,
                    event_id=event_id,
                    created_at=now or utcnow(),
                )
            )
        return True

    def links_from(self, key: str) -> list[SubjectLink]:
        """Return the links starting at ``key``, oldest first."""
        query = select(subject_links).where(subject_links.c.from_key == key)
        return self._links(query.order_by(subject_links.c.id))

    def links_to(self, key: str) -> list[SubjectLink]:
        """Return the links ending at ``key``, oldest first."""
        query = select(subject_links).where(subject_links.c.to_key == key)
        return self._links(query.order_by(subject_links.c.id))

    def _links(self, query: Any) -> list[SubjectLink]:
        with self._read() as conn:
            rows = conn.execute(query).mappings()
            return [
                SubjectLink(**{k: r[k] for k in SubjectLink.__dataclass_fields__}) for r in rows
            ]

    def origin_of(self, key: str, prefix: str) -> str | None:
        """Return the ``prefix`` subject (its key without the prefix) ``key`` came from, or None.

        A subject of that kind is its own origin; an issue's is the one linked to it; a pull
        request's is its own link's, else its issue's (the oldest linked issue that has one).
        """
        if key.startswith(prefix):
            return key.removeprefix(prefix)
        links = self.links_to(key)
        for link in links:
            if link.from_key.startswith(prefix):
                return link.from_key.removeprefix(prefix)
        if key.startswith("pull_request:"):
            for link in links:
                if link.from_key.startswith("issue:"):
                    found = self.origin_of(link.from_key, prefix)
                    if found is not None:
                        return found
        return None

    def slack_thread_of(self, key: str) -> str | None:
        """Return the Slack thread (``CHANNEL/TS``) ``key`` came from, or None."""
        return self.origin_of(key, SLACK_PREFIX)

    def sentry_issue_of(self, key: str) -> str | None:
        """Return the Sentry issue id ``key`` came from, or None."""
        return self.origin_of(key, SENTRY_PREFIX)

    def issues_from(self, key: str) -> list[int]:
        """Return the issue numbers linked from subject ``key``, oldest link first."""
        return [
            int(link.to_key.removeprefix("issue:"))
            for link in self.links_from(key)
            if link.to_key.startswith("issue:")
        ]

    def issue_of_thread(self, thread: str) -> int | None:
        """Return the newest issue number linked from Slack thread ``thread``, or None."""
        issues = self.issues_from(SLACK_PREFIX + thread)
        return issues[-1] if issues else None

    def issues_of_pull(self, number: int) -> list[int]:
        """Return the issue numbers linked to pull request ``number``, oldest link first."""
        return [
            int(link.from_key.removeprefix("issue:"))
            for link in self.links_to(f"pull_request:{number}")
            if link.from_key.startswith("issue:")
        ]

    # -- follow-ups -----------------------------------------------------------------------

    def record_followup_intent(
        self,
        key: str,
        kind: str,
        thread: str,
        target_key: str,
        request: dict[str, Any],
        *,
        event_id: int | None = None,
        now: datetime | None = None,
    ) -> tuple[int, bool]:
        """Record a follow-up about to be written; return (id, True) if new, (id, False) if
        ``key`` was recorded before (whatever its status)."""
        stamp = now or utcnow()
        with self._write() as conn:
            found = conn.execute(select(followups.c.id).where(followups.c.key == key)).first()
            if found is not None:
                return int(found[0]), False
            result = conn.execute(
                followups.insert().values(
                    key=key,
                    kind=kind,
                    thread=thread,
                    target_key=target_key,
                    request=redact_json(request),
                    status="intent",
                    event_id=event_id,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
            pk = result.inserted_primary_key
            assert pk is not None
            return int(pk[0]), True

    def mark_followup(
        self,
        followup_id: int,
        status: str,
        *,
        url: str | None = None,
        error: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record how a follow-up ended (applied with its url, or failed with the error).

        Raises ValueError for an unknown status, StoreError for an unknown id.
        """
        if status not in FOLLOWUP_STATUSES:
            raise ValueError(f"follow-up status {status!r} is not one of {FOLLOWUP_STATUSES}")
        with self._write() as conn:
            updated = conn.execute(
                followups.update()
                .where(followups.c.id == followup_id)
                .values(
                    status=status,
                    url=redact_text(url),
                    error=redact_text(error),
                    updated_at=now or utcnow(),
                )
            )
            if updated.rowcount == 0:
                raise StoreError(f"follow-up {followup_id} not found in run store {self.where}")

    def pending_followups(self, kinds: Sequence[str] | None = None) -> list[FollowupRecord]:
        """Return follow-ups still at ``intent`` (maybe written before a crash), oldest first;
        only those of ``kinds`` when given (each writer performs its own kinds)."""
        query = select(followups).where(followups.c.status == "intent")
        if kinds is not None:
            query = query.where(followups.c.kind.in_(list(kinds)))
        return self._followups(query.order_by(followups.c.id))

    def followups_of_thread(self, thread: str) -> list[FollowupRecord]:
        """Return every follow-up of one thread, oldest first."""
        query = select(followups).where(followups.c.thread == thread).order_by(followups.c.id)
        return self._followups(query)

    def _followups(self, query: Any) -> list[FollowupRecord]:
        with self._read() as conn:
            rows = conn.execute(query).mappings()
            fields = FollowupRecord.__dataclass_fields__
            return [FollowupRecord(**{k: r[k] for k in fields}) for r in rows]
