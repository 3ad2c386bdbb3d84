"""Interval schedules name each tick by its slot, so several control processes share its key."""

from __future__ import annotations

from datetime import UTC, datetime

from factory.sources.schedule import interval_slot


def test_two_fires_in_one_slot_share_the_tick() -> None:
    """Fires 0.9 s apart inside one 5 s slot (two controls started apart) name one tick."""
    early = datetime(2026, 1, 1, 12, 0, 10, 100_000, tzinfo=UTC)
    late = datetime(2026, 1, 1, 12, 0, 11, tzinfo=UTC)
    assert (
        interval_slot(early, 5)
        == interval_slot(late, 5)
        == datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC)
    )


def test_the_next_slot_is_another_tick() -> None:
    """A fire in the next slot is a different tick."""
    now = datetime(2026, 1, 1, 12, 0, 14, 900_000, tzinfo=UTC)
    later = datetime(2026, 1, 1, 12, 0, 15, tzinfo=UTC)
    assert (interval_slot(now, 5), interval_slot(later, 5)) == (
        datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC),
        datetime(2026, 1, 1, 12, 0, 15, tzinfo=UTC),
    )
