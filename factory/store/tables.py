"""The store's tables as they are after the last migration (SQLAlchemy Core).

Migrations in ``migrations.py`` build this schema step by step; queries use these
Table objects. Timestamps are stored as UTC and come back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)

RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted", "skipped")
FINISHED_STATUSES = ("succeeded", "failed", "cancelled", "interrupted", "skipped")
OUTPUT_STATUSES = ("intent", "applied", "refused", "failed", "staged")
FOLLOWUP_STATUSES = ("intent", "applied", "failed")
OUTCOME_FATES = (
    "merged_zero_touch",
    "merged_after_human_changes",
    "closed_unmerged",
    "reverted",
    "issue_completed",
    "issue_not_planned",
    "issue_reopened",
    "review_followed",
    "review_dismissed",
)
ACCEPTED_FATES = (
    "merged_zero_touch",
    "merged_after_human_changes",
    "issue_completed",
    "review_followed",
)
"""The fates that count an output as accepted (when it is the output's latest fate)."""


class UTCDateTime(TypeDecorator[datetime]):
    """A DateTime stored as naive UTC and returned as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the store; use UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


metadata = MetaData()
_MEDIAN = text("status IN ('succeeded', 'failed', 'cancelled', 'interrupted')")
"""The runs whose turns and cost make a prompt version's medians (skipped ones excluded)."""

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("applied_at", UTCDateTime(), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedup_key", String(500), nullable=False, unique=True),
    Column("source", String(20), nullable=False),
    Column("kind", String(100), nullable=False),
    Column("subject_key", String(200)),
    Column("subject", JSON),
    Column("actor", String(200)),
    Column("trust", String(20), nullable=False),
    Column("by_factory", Boolean, nullable=False, default=False),
    Column("payload", JSON, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("dispatched_at", UTCDateTime()),
    Column("ignored", Text),
    Index("ix_events_undispatched", "dispatched_at", "id"),
    Index("ix_events_kind_subject", "kind", "subject_key"),  # added by migration 006
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("automation", String(200), nullable=False),
    Column("content_hash", String(128), nullable=False, default=""),
    Column("prompt_snapshot", Text, nullable=False, default=""),
    Column("subject_key", String(200)),
    Column("event_id", Integer, ForeignKey("events.id")),
    Column("status", String(20), nullable=False),
    Column("attempt", Integer, nullable=False, default=1),
    Column("retryable", Boolean, nullable=False, default=False),
    Column("not_before", UTCDateTime()),
    Column("queued_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("input_tokens", Integer, nullable=False, default=0),
    Column("output_tokens", Integer, nullable=False, default=0),
    Column("cache_read_tokens", Integer, nullable=False, default=0),
    Column("cache_write_tokens", Integer, nullable=False, default=0),
    Column("cost_usd", Float, nullable=False, default=0.0),
    Column("turns", Integer, nullable=False, default=0),
    Column("stop_reason", String(200)),
    Column("error", Text),
    Column("holder", String(200)),
    UniqueConstraint("event_id", "automation", "attempt", name="uq_runs_event_automation_attempt"),
    # Added by migration 002:
    Index("ix_runs_automation_queued_at", "automation", "queued_at"),
    # Added by migration 006 (which dropped 002's ix_runs_status and ix_runs_subject_key):
    Index("ix_runs_status_id", "status", "id"),
    Index("ix_runs_automation_id", "automation", "id"),
    Index("ix_runs_subject_key_id", "subject_key", "id"),
    Index("ix_runs_queued_at", "queued_at"),
    Index(
        "ix_runs_version_turns",
        "automation",
        "content_hash",
        "turns",
        "status",
        sqlite_where=_MEDIAN,
    ),
    Index(
        "ix_runs_version_cost",
        "automation",
        "content_hash",
        "cost_usd",
        "status",
        sqlite_where=_MEDIAN,
    ),
)

steps = Table(
    "steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(26), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(50), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("input_tokens", Integer, nullable=False, default=0),
    Column("output_tokens", Integer, nullable=False, default=0),
    Column("cache_read_tokens", Integer, nullable=False, default=0),
    Column("cache_write_tokens", Integer, nullable=False, default=0),
    Column("cost_usd", Float, nullable=False, default=0.0),
    Column("latency_ms", Float),
    Column("created_at", UTCDateTime(), nullable=False),
    # Added by migration 002:
    Column("text", Text, nullable=False, default=""),
    UniqueConstraint("run_id", "seq", name="uq_steps_run_seq"),
)

outputs = Table(
    "outputs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(26), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(100), nullable=False),
    Column("idempotency_key", String(500), nullable=False, unique=True),
    Column("request", JSON, nullable=False),
    Column("result", JSON),
    Column("status", String(20), nullable=False),
    Column("url", String(1000)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_outputs_status", "status"),
    Index("ix_outputs_run_id", "run_id"),
    # Added by migration 007: narrows the search for the output that made pull request N.
    Index("ix_outputs_kind_status", "kind", "status"),
)

# Added by migration 005:
subject_links = Table(
    "subject_links",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("from_key", String(200), nullable=False),
    Column("to_key", String(200), nullable=False),
    Column("run_id", String(26)),
    Column("output_id", Integer),
    Column("event_id", Integer),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("from_key", "to_key", name="uq_subject_links_from_to"),
    Index("ix_subject_links_to_key", "to_key"),
)

followups = Table(
    "followups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(500), nullable=False, unique=True),
    Column("kind", String(50), nullable=False),
    Column("thread", String(200), nullable=False),
    Column("target_key", String(200), nullable=False),
    Column("request", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("url", String(1000)),
    Column("error", Text),
    Column("event_id", Integer),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_followups_status", "status"),
)

# Added by migration 006 (kept by factory/store/rollups.py):
run_rollups = Table(
    "run_rollups",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("automation", String(200), primary_key=True),
    Column("status", String(20), primary_key=True),
    Column("content_hash", String(128), primary_key=True),
    Column("source", String(20), primary_key=True),
    Column("reason", String(200), primary_key=True),
    Column("runs", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("first_queued", UTCDateTime(), nullable=False),
    Column("last_queued", UTCDateTime(), nullable=False),
    sqlite_with_rowid=False,
)

# Added by migration 006 (kept by the trigger events_subject_titles):
subject_titles = Table(
    "subject_titles",
    metadata,
    Column("subject_key", String(200), primary_key=True),
    Column("title", Text, primary_key=True),
)

# Added by migration 007 (written by factory/store/outcomes.py):
outcomes = Table(
    "outcomes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False, unique=True),
    Column("output_id", Integer, nullable=False),
    Column("run_id", String(26), nullable=False),
    Column("automation", String(200), nullable=False),
    Column("content_hash", String(128), nullable=False),
    Column("subject_key", String(200), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("fate", String(50), nullable=False),
    Column("output_at", UTCDateTime(), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=False),
    Column("event_id", Integer),
    Column("evidence", JSON, nullable=False),
    Index("ix_outcomes_version", "automation", "content_hash"),
    Index("ix_outcomes_output", "output_id", "decided_at"),
    Index("ix_outcomes_subject", "subject_key"),
)

workers = Table(
    "workers",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("beat_at", UTCDateTime, nullable=False),
)
"""Each distributed worker's last heartbeat (factory/store/workers.py)."""
