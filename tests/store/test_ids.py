"""Sortable run ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from factory.ids import ID_LENGTH, id_time, new_id


def test_ids_have_fixed_length() -> None:
    """An id is 26 characters."""
    assert len(new_id()) == ID_LENGTH == 26


def test_ids_made_in_sequence_sort_in_sequence() -> None:
    """Ids made one after another (many in one millisecond) sort in creation order."""
    ids = [new_id() for _ in range(2000)]
    assert sorted(ids) == ids and len(set(ids)) == len(ids)


def test_later_time_sorts_after_earlier_time() -> None:
    """An id for a later millisecond sorts after one for an earlier millisecond."""
    assert new_id(now_ms=2_000_000_000_000) > new_id(now_ms=1_000_000_000_000)


def test_id_time_decodes_the_millisecond() -> None:
    """id_time returns the UTC time the id was made for."""
    ms = 1_767_225_600_123
    decoded = id_time(new_id(now_ms=ms + 10**9))
    assert decoded == datetime.fromtimestamp((ms + 10**9) / 1000, tz=UTC)


@pytest.mark.parametrize("bad", ["", "short", "U" * 26], ids=["empty", "short", "bad-char"])
def test_id_time_refuses_non_ids(bad: str) -> None:
    """id_time raises ValueError for strings that are not ids."""
    with pytest.raises(ValueError, match="not a run id"):
        id_time(bad)


def test_negative_timestamp_is_refused() -> None:
    """new_id raises ValueError for a timestamp before the epoch."""
    with pytest.raises(ValueError, match="outside"):
        new_id(now_ms=-1)
