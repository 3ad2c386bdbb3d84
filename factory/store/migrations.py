"""Schema migrations: an ordered list of named functions, each applied once.

``migrate`` records every applied name in ``schema_migrations``; opening a database
left at an earlier migration applies the rest, in order, in one write transaction.
Migrations are frozen history: never edit one that shipped, add a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)

from factory.errors import StoreError
from factory.events import utcnow
from factory.store import pg_migrations
from factory.store.tables import UTCDateTime, schema_migrations

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Migration:
    """One named schema change."""

    name: str
    apply: Callable[[Connection], None]


def _m001_initial(conn: Connection) -> None:
    """Create events, runs, steps and outputs as they first shipped."""
    md = MetaData()
    Table(
        "events",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("dedup_key", String(500), nullable=False, unique=True),
        Column("source", String(20), nullable=False),
        Column("kind", String(100), nullable=False),
        Column("subject_key", String(200)),
        Column("subject", JSON),
        Column("actor", String(200)),
        Column("trust", String(20), nullable=False),
        Column("by_factory", Boolean, nullable=False),
        Column("payload", JSON, nullable=False),
        Column("received_at", UTCDateTime(), nullable=False),
        Column("dispatched_at", UTCDateTime()),
    )
    Table(
        "runs",
        md,
        Column("id", String(26), primary_key=True),
        Column("automation", String(200), nullable=False),
        Column("content_hash", String(128), nullable=False),
        Column("prompt_snapshot", Text, nullable=False),
        Column("subject_key", String(200)),
        Column("event_id", Integer, ForeignKey("events.id")),
        Column("status", String(20), nullable=False),
        Column("attempt", Integer, nullable=False),
        Column("retryable", Boolean, nullable=False),
        Column("not_before", UTCDateTime()),
        Column("queued_at", UTCDateTime(), nullable=False),
        Column("started_at", UTCDateTime()),
        Column("finished_at", UTCDateTime()),
        Column("input_tokens", Integer, nullable=False),
        Column("output_tokens", Integer, nullable=False),
        Column("cache_read_tokens", Integer, nullable=False),
        Column("cache_write_tokens", Integer, nullable=False),
        Column("cost_usd", Float, nullable=False),
        Column("turns", Integer, nullable=False),
        Column("stop_reason", String(200)),
        Column("error", Text),
        Column("holder", String(200)),
        UniqueConstraint(
            "event_id", "automation", "attempt", name="uq_runs_event_automation_attempt"
        ),
    )
    Table(
        "steps",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("run_id", String(26), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        Column("seq", Integer, nullable=False),
        Column("kind", String(50), nullable=False),
        Column("payload", JSON, nullable=False),
        Column("input_tokens", Integer, nullable=False),
        Column("output_tokens", Integer, nullable=False),
        Column("cache_read_tokens", Integer, nullable=False),
        Column("cache_write_tokens", Integer, nullable=False),
        Column("cost_usd", Float, nullable=False),
        Column("latency_ms", Float),
        Column("created_at", UTCDateTime(), nullable=False),
        UniqueConstraint("run_id", "seq", name="uq_steps_run_seq"),
    )
    Table(
        "outputs",
        md,
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
    )
    md.create_all(conn)


def _m002_search_text_and_indexes(conn: Connection) -> None:
    """Add steps.text (plain-text rendering for search) and the lookup indexes."""
    for sql in (
        "ALTER TABLE steps ADD COLUMN text TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX ix_runs_status ON runs (status)",
        "CREATE INDEX ix_runs_automation_queued_at ON runs (automation, queued_at)",
        "CREATE INDEX ix_runs_subject_key ON runs (subject_key)",
        "CREATE INDEX ix_events_undispatched ON events (dispatched_at, id)",
        "CREATE INDEX ix_outputs_status ON outputs (status)",
        "CREATE INDEX ix_outputs_run_id ON outputs (run_id)",
    ):
        conn.exec_driver_sql(sql)


def _m003_steps_full_text_search(conn: Connection) -> None:
    """Add steps_fts: an external-content FTS5 index of steps.text, kept in sync by triggers."""
    if conn.dialect.name == "postgresql":
        pg_migrations.m003_steps_full_text_search(conn)
        return
    for sql in (
        "CREATE VIRTUAL TABLE steps_fts USING fts5(text, content='steps', content_rowid='id')",
        "CREATE TRIGGER steps_fts_insert AFTER INSERT ON steps BEGIN"
        " INSERT INTO steps_fts(rowid, text) VALUES (new.id, new.text); END",
        "CREATE TRIGGER steps_fts_delete AFTER DELETE ON steps BEGIN"
        " INSERT INTO steps_fts(steps_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
        "CREATE TRIGGER steps_fts_update AFTER UPDATE OF text ON steps BEGIN"
        " INSERT INTO steps_fts(steps_fts, rowid, text) VALUES ('delete', old.id, old.text);"
        " INSERT INTO steps_fts(rowid, text) VALUES (new.id, new.text); END",
        "INSERT INTO steps_fts(steps_fts) VALUES ('rebuild')",
    ):
        conn.exec_driver_sql(sql)


def _m004_events_ignored(conn: Connection) -> None:
    """Add events.ignored: why an event was stored but never dispatched (another repository)."""
    conn.exec_driver_sql("ALTER TABLE events ADD COLUMN ignored TEXT")


def _m005_subject_links_and_followups(conn: Connection) -> None:
    """Add subject_links (Slack thread <-> issue <-> pull request, with what made each link)
    and followups (the daemon's thread updates and thread-to-issue comments, intent first)."""
    md = MetaData()
    Table(
        "subject_links",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("from_key", String(200), nullable=False),
        Column("to_key", String(200), nullable=False),
        Column("run_id", String(26)),
        Column("output_id", Integer),
        Column("event_id", Integer),
        Column("created_at", UTCDateTime(), nullable=False),
        UniqueConstraint("from_key", "to_key", name="uq_subject_links_from_to"),
    )
    Table(
        "followups",
        md,
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
    )
    md.create_all(conn)
    conn.exec_driver_sql("CREATE INDEX ix_subject_links_to_key ON subject_links (to_key)")
    conn.exec_driver_sql("CREATE INDEX ix_followups_status ON followups (status)")


_M006_MEDIAN = "WHERE status IN ('succeeded', 'failed', 'cancelled', 'interrupted')"
_M006_FILL = (
    "INSERT INTO run_rollups SELECT substr(r.queued_at, 1, 10), r.automation,"
    " r.content_hash, r.status, COALESCE(e.source, 'none'), CASE WHEN r.status IN"
    " ('failed', 'interrupted') THEN substr(COALESCE(r.stop_reason, substr(r.error, 1,"
    " instr(r.error || char(10), char(10)) - 1), '(no reason)'), 1, 200) ELSE '' END,"
    " COUNT(*), SUM(r.cost_usd), MIN(r.queued_at), MAX(r.queued_at) FROM runs r"
    " LEFT JOIN events e ON e.id = r.event_id WHERE r.status IN"
    " ('succeeded', 'failed', 'cancelled', 'interrupted', 'skipped')"
    " GROUP BY 1, 2, 3, 4, 5, 6"
)


def _m006_run_rollups_and_viewer_indexes(conn: Connection) -> None:
    """Add run_rollups (finished runs per day, automation, version, status, source, reason),
    subject_titles (every title an event gave a subject, kept by a trigger on events), both
    filled from the rows that exist, and the indexes the viewer's lists and medians use."""
    if conn.dialect.name == "postgresql":
        pg_migrations.m006_run_rollups_and_viewer_indexes(conn, _M006_FILL, _M006_MEDIAN)
        return
    for sql in (
        "CREATE TABLE run_rollups (day VARCHAR(10) NOT NULL, automation VARCHAR(200) NOT NULL,"
        " content_hash VARCHAR(128) NOT NULL, status VARCHAR(20) NOT NULL,"
        " source VARCHAR(20) NOT NULL, reason VARCHAR(200) NOT NULL, runs INTEGER NOT NULL,"
        " cost_usd FLOAT NOT NULL, first_queued DATETIME NOT NULL, last_queued DATETIME NOT NULL,"
        " PRIMARY KEY (day, automation, status, content_hash, source, reason)) WITHOUT ROWID",
        _M006_FILL,
        "CREATE INDEX ix_runs_status_id ON runs (status, id)",
        "CREATE INDEX ix_runs_automation_id ON runs (automation, id)",
        "CREATE INDEX ix_runs_subject_key_id ON runs (subject_key, id)",
        "CREATE INDEX ix_runs_queued_at ON runs (queued_at)",
        "CREATE INDEX ix_runs_version_turns ON runs (automation, content_hash, turns, status)"
        f" {_M006_MEDIAN}",
        "CREATE INDEX ix_runs_version_cost ON runs (automation, content_hash, cost_usd, status)"
        f" {_M006_MEDIAN}",
        "CREATE INDEX ix_events_kind_subject ON events (kind, subject_key)",
        "CREATE TABLE subject_titles (subject_key VARCHAR(200) NOT NULL, title TEXT NOT NULL,"
        " PRIMARY KEY (subject_key, title))",
        "INSERT OR IGNORE INTO subject_titles SELECT subject_key, json_extract(subject,"
        " '$.title') FROM events WHERE subject_key IS NOT NULL"
        " AND json_extract(subject, '$.title') IS NOT NULL",
        "CREATE TRIGGER events_subject_titles AFTER INSERT ON events WHEN new.subject_key"
        " IS NOT NULL AND json_extract(new.subject, '$.title') IS NOT NULL BEGIN"
        " INSERT OR IGNORE INTO subject_titles"
        " VALUES (new.subject_key, json_extract(new.subject, '$.title')); END",
        "DROP INDEX ix_runs_status",  # ix_runs_status_id serves the same lookups
        "DROP INDEX ix_runs_subject_key",  # ix_runs_subject_key_id serves the same lookups
    ):
        conn.exec_driver_sql(sql)


def _m007_outcomes(conn: Connection) -> None:
    """Add outcomes (what became of each output: merged, closed, reverted, …, as GitHub told
    it) and the index that narrows the search for the output that made pull request N."""
    if conn.dialect.name == "postgresql":
        pg_migrations.m007_outcomes(conn)
        return
    for sql in (
        "CREATE TABLE outcomes (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " key VARCHAR(300) NOT NULL UNIQUE, output_id INTEGER NOT NULL,"
        " run_id VARCHAR(26) NOT NULL, automation VARCHAR(200) NOT NULL,"
        " content_hash VARCHAR(128) NOT NULL, subject_key VARCHAR(200) NOT NULL,"
        " kind VARCHAR(50) NOT NULL, fate VARCHAR(50) NOT NULL,"
        " output_at DATETIME NOT NULL, decided_at DATETIME NOT NULL, event_id INTEGER,"
        " evidence JSON NOT NULL)",
        "CREATE INDEX ix_outcomes_version ON outcomes (automation, content_hash)",
        "CREATE INDEX ix_outcomes_output ON outcomes (output_id, decided_at)",
        "CREATE INDEX ix_outcomes_subject ON outcomes (subject_key)",
        "CREATE INDEX ix_outputs_kind_status ON outputs (kind, status)",
    ):
        conn.exec_driver_sql(sql)


def _m008_workers(conn: Connection) -> None:
    """Create workers: each distributed worker's heartbeat (factory/store/workers.py)."""
    Table(
        "workers",
        MetaData(),
        Column("id", String(100), primary_key=True),
        Column("role", String(20), nullable=False),
        Column("beat_at", UTCDateTime, nullable=False),
    ).create(conn)


MIGRATIONS: tuple[Migration, ...] = (
    Migration("001_initial", _m001_initial),
    Migration("002_search_text_and_indexes", _m002_search_text_and_indexes),
    Migration("003_steps_full_text_search", _m003_steps_full_text_search),
    Migration("004_events_ignored", _m004_events_ignored),
    Migration("005_subject_links_and_followups", _m005_subject_links_and_followups),
    Migration("006_run_rollups_and_viewer_indexes", _m006_run_rollups_and_viewer_indexes),
    Migration("007_outcomes", _m007_outcomes),
    Migration("008_workers", _m008_workers),
)
"""Every migration, in the order it is applied."""


def applied_migrations(conn: Connection) -> list[str]:
    """Return the names recorded in schema_migrations (empty if the table does not exist)."""
    if not conn.dialect.has_table(conn, "schema_migrations"):
        return []
    rows = conn.execute(select(schema_migrations.c.name).order_by(schema_migrations.c.name))
    return [r[0] for r in rows]


def migrate(conn: Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply, in order, each migration not yet recorded; return the names applied now.

    Runs inside the caller's transaction (use a write transaction). Raises StoreError if
    the database records a migration this code does not know (it is newer than the code).
    """
    schema_migrations.create(conn, checkfirst=True)
    done = set(applied_migrations(conn))
    known = {m.name for m in MIGRATIONS} | {m.name for m in migrations}
    unknown = sorted(done - known)
    if unknown:
        raise StoreError(f"database has migrations this factoryd does not know: {unknown}")
    applied: list[str] = []
    for migration in migrations:
        if migration.name in done:
            continue
        migration.apply(conn)
        conn.execute(schema_migrations.insert().values(name=migration.name, applied_at=utcnow()))
        log.info("store_migration_applied", migration=migration.name)
        applied.append(migration.name)
    return applied
