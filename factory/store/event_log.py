"""The events part of the store: events are kept once per dedup key, then dispatched."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select

from factory.errors import StoreError
from factory.events import Event, utcnow
from factory.store.base import StoreBase
from factory.store.records import EventRecord, RunRecord
from factory.store.redaction import redact_json
from factory.store.tables import events, runs


class EventLog(StoreBase):
    """Methods on the events table."""

    def add_event(self, event: Event, *, ignored: str | None = None) -> tuple[int, bool]:
        """Store ``event`` unless its dedup key is already stored.

        ``ignored`` is why the event must never be dispatched (kept for the record): it is
        stored as already dispatched. Returns (event id, True) when stored now, (existing
        id, False) for a duplicate; either way the row is on disk (synchronous=FULL), so the
        caller may acknowledge the event. Raises StoreError when the store is read-only.
        """
        return self._store_event(event, durable=True, ignored=ignored)

    def _store_event(
        self, event: Event, *, durable: bool, ignored: str | None = None
    ) -> tuple[int, bool]:
        """``add_event`` with the commit's durability chosen; NORMAL only to measure the cost."""
        with self._write(durable=durable) as conn:
            existing = conn.execute(
                select(events.c.id).where(events.c.dedup_key == event.dedup_key)
            ).scalar_one_or_none()
            if existing is not None:
                return int(existing), False
            result = conn.execute(
                events.insert().values(
                    dedup_key=event.dedup_key,
                    source=event.source,
                    kind=event.kind,
                    subject_key=event.subject_key,
                    subject=redact_json(event.subject.model_dump(mode="json"))
                    if event.subject
                    else None,
                    actor=event.actor,
                    trust=event.trust,
                    by_factory=event.by_factory,
                    payload=redact_json(event.payload),
                    received_at=event.received_at,
                    ignored=ignored,
                    dispatched_at=event.received_at if ignored else None,
                )
            )
            pk = result.inserted_primary_key
            assert pk is not None
            return int(pk[0]), True

    def get_event(self, event_id: int) -> EventRecord:
        """Return the stored event with this id. Raises StoreError if there is none."""
        with self._read() as conn:
            row = conn.execute(select(events).where(events.c.id == event_id)).mappings().first()
        if row is None:
            raise StoreError(f"event {event_id} not found in run store {self.where}")
        return EventRecord.from_row(row)

    def undispatched_events(self, limit: int = 100) -> list[EventRecord]:
        """Return up to ``limit`` events not yet dispatched, oldest first."""
        query = (
            select(events)
            .where(events.c.dispatched_at.is_(None))
            .order_by(events.c.id)
            .limit(limit)
        )
        with self._read() as conn:
            return [EventRecord.from_row(r) for r in conn.execute(query).mappings()]

    def mark_event_dispatched(self, event_id: int, *, now: datetime | None = None) -> None:
        """Record that the event was dispatched. Raises StoreError if there is no such event."""
        with self._write() as conn:
            result = conn.execute(
                events.update().where(events.c.id == event_id).values(dispatched_at=now or utcnow())
            )
            if result.rowcount == 0:
                raise StoreError(f"event {event_id} not found in run store {self.where}")

    def subject_events(self, subject_key: str, kinds: Collection[str]) -> list[EventRecord]:
        """Return the stored events of these kinds about one subject, oldest first (ignored
        events left out: they are about another repository)."""
        query = (
            select(events)
            .where(
                events.c.subject_key == subject_key,
                events.c.kind.in_(list(kinds)),
                events.c.ignored.is_(None),
            )
            .order_by(events.c.id)
        )
        with self._read() as conn:
            return [EventRecord.from_row(r) for r in conn.execute(query).mappings()]

    def runs_of_event(self, event_id: int) -> list[RunRecord]:
        """Return every run the event caused (all automations and attempts), oldest first."""
        query = select(runs).where(runs.c.event_id == event_id).order_by(runs.c.id)
        with self._read() as conn:
            return [RunRecord.from_row(r) for r in conn.execute(query).mappings()]
