"""An event is acknowledged after a commit that survives power loss (synchronous=FULL).

The pragma is read from inside the transaction, on the connection that runs the INSERT,
through an SQLAlchemy cursor event on real SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event

from factory.events import Event, Subject
from factory.store import RunStore

pytestmark = pytest.mark.sqlite_only  # PRAGMA synchronous: SQLite durability levels

FULL, NORMAL = 2, 1
"""Values of ``PRAGMA synchronous``."""


@pytest.fixture
def seen() -> Iterator[dict[str, list[int]]]:
    """Records ``PRAGMA synchronous`` at each INSERT, by table, for every engine."""
    found: dict[str, list[int]] = {}

    def before(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        words = statement.split()
        if words[:2] == ["INSERT", "INTO"]:
            level = cursor.connection.execute("PRAGMA synchronous").fetchone()[0]
            found.setdefault(words[2], []).append(int(level))

    event.listen(Engine, "before_cursor_execute", before)
    try:
        yield found
    finally:
        event.remove(Engine, "before_cursor_execute", before)


def _event(key: str) -> Event:
    return Event(
        source="github",
        kind="issues.opened",
        dedup_key=key,
        subject=Subject(kind="issue", number=1),
        actor="mara",
        trust="maintainers",
        payload={},
    )


def test_event_is_stored_with_synchronous_full(store: RunStore, seen: dict[str, list[int]]) -> None:
    """The transaction that stores an event runs with synchronous=FULL."""
    store.add_event(_event("e1"))
    assert seen["events"] == [FULL]


def test_writes_after_an_event_go_back_to_normal(
    store: RunStore, seen: dict[str, list[int]]
) -> None:
    """FULL is only for the event: the next write on the pooled connection is NORMAL again."""
    store.add_event(_event("e1"))
    store.create_run("builder")
    assert seen["runs"] == [NORMAL]


def test_duplicate_event_is_still_answered(store: RunStore) -> None:
    """A redelivery under FULL still finds the first copy (same id, not stored again)."""
    first, _ = store.add_event(_event("e1"))
    assert store.add_event(_event("e1")) == (first, False)
