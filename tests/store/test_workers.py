"""Worker heartbeats: a lapsed worker is handed to exactly one live worker for recovery."""

from __future__ import annotations

from datetime import timedelta

from factory.events import utcnow
from factory.store import RunStore
from factory.store.workers import alive, beat, take_dead


def test_a_dead_worker_is_taken_by_one_live_worker_only(store: RunStore) -> None:
    """Two live workers asking for the same lapsed worker: the first gets it, the second not."""
    beat(store, "w-dead", at=utcnow() - timedelta(seconds=60))
    beat(store, "w-a")
    beat(store, "w-b")
    assert (take_dead(store, 10, me="w-a"), take_dead(store, 10, me="w-b")) == (["w-dead"], [])


def test_a_worker_that_beats_is_alive_and_never_taken(store: RunStore) -> None:
    """A worker whose beat is within the lapse is listed alive and no one takes it."""
    beat(store, "w-a", at=utcnow() - timedelta(seconds=60))
    beat(store, "w-a")
    assert (alive(store, 10), take_dead(store, 10, me="w-b")) == (["w-a"], [])
