"""Several control processes share one store: an event (a webhook delivery) is stored once."""

from __future__ import annotations

from pathlib import Path

from factory.events import Event
from factory.store import RunStore


def test_one_delivery_received_by_two_controls_is_stored_once(
    store: RunStore, db_path: Path
) -> None:
    """Two stores over one database (two control processes) add the same delivery: one row."""
    event = Event(
        source="github",
        kind="issues.opened",
        dedup_key="github:delivery:72d3162e-cc78-11e3-81ab-4c9367dc0958",
        trust="maintainers",
    )
    with RunStore.open(db_path) as other:
        first, created_first = store.add_event(event)
        second, created_second = other.add_event(event)
    assert (created_first, created_second, first == second, len(store.undispatched_events())) == (
        True,
        False,
        True,
        1,
    )
