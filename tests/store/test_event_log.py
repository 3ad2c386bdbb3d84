"""Events in the store: one row per dedup key, dispatched once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from factory.errors import StoreError
from factory.events import Event
from factory.store import RunStore


def test_first_add_creates_the_event(store: RunStore, make_event: Callable[..., Event]) -> None:
    """Adding a new dedup key reports it created."""
    _, created = store.add_event(make_event("k1"))
    assert created is True


def test_duplicate_dedup_key_returns_existing_id(
    store: RunStore, make_event: Callable[..., Event]
) -> None:
    """A second event with the same dedup key returns the first id and created=False."""
    first_id, _ = store.add_event(make_event("k1"))
    assert store.add_event(make_event("k1", number=99)) == (first_id, False)


def test_duplicate_is_not_stored_twice(store: RunStore, make_event: Callable[..., Event]) -> None:
    """A redelivered event leaves one row to dispatch."""
    store.add_event(make_event("k1"))
    store.add_event(make_event("k1"))
    assert len(store.undispatched_events()) == 1


def test_event_round_trips(store: RunStore, make_event: Callable[..., Event]) -> None:
    """The stored event reads back equal to the one added."""
    event = make_event("k1", by_factory=True)
    event_id, _ = store.add_event(event)
    assert store.get_event(event_id).event == event


def test_subject_key_is_stored_for_lookups(
    store: RunStore, make_event: Callable[..., Event]
) -> None:
    """The events row carries the subject key derived from the subject."""
    event_id, _ = store.add_event(make_event("k1", number=5))
    with store._read() as conn:
        key = conn.execute(text("SELECT subject_key FROM events WHERE id = :id"), {"id": event_id})
        assert key.scalar() == "issue:5"


def test_dispatched_event_leaves_the_queue(
    store: RunStore, make_event: Callable[..., Event]
) -> None:
    """After mark_event_dispatched the event is no longer undispatched."""
    first, _ = store.add_event(make_event("k1"))
    second, _ = store.add_event(make_event("k2"))
    store.mark_event_dispatched(first)
    assert [r.id for r in store.undispatched_events()] == [second]


def test_mark_unknown_event_dispatched_raises(store: RunStore) -> None:
    """Marking a missing event raises StoreError naming it."""
    with pytest.raises(StoreError, match="event 42"):
        store.mark_event_dispatched(42)
