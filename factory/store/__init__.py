"""The run store: SQLite (WAL) through SQLAlchemy; ``RunStore`` is the only code writing SQL."""

from __future__ import annotations

from factory.store.migrations import MIGRATIONS, Migration, migrate
from factory.store.records import EventRecord, OutputRecord, RunRecord, StepRecord
from factory.store.runstore import RunStore

__all__ = [
    "MIGRATIONS",
    "EventRecord",
    "Migration",
    "OutputRecord",
    "RunRecord",
    "RunStore",
    "StepRecord",
    "migrate",
]
