"""The run store: SQLite (WAL) through SQLAlchemy; ``RunStore`` is the only code writing SQL."""

from __future__ import annotations

from factory.store.lineage import FollowupRecord, SubjectLink
from factory.store.migrations import MIGRATIONS, Migration, migrate
from factory.store.records import EventRecord, OutputRecord, RunRecord, StepRecord
from factory.store.runstore import RunStore

__all__ = [
    "MIGRATIONS",
    "EventRecord",
    "FollowupRecord",
    "Migration",
    "OutputRecord",
    "RunRecord",
    "RunStore",
    "StepRecord",
    "SubjectLink",
    "migrate",
]
