"""Migrations: the upgrade path from an earlier migration and the final schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from factory.errors import StoreError
from factory.store import MIGRATIONS, RunStore
from factory.store.tables import metadata

FIRST_ONLY = MIGRATIONS[:1]


def _build_at_first_migration(path: Path) -> None:
    """Make a database at migration 001 with one event, one run and one step in it."""
    RunStore.open(path, migrations=FIRST_ONLY).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO events (dedup_key, source, kind, subject_key, trust, by_factory,"
            " payload, received_at) VALUES ('k1', 'github', 'issues.opened', 'issue:3',"
            " 'maintainers', 0, '{}', '2026-01-02 03:04:05.000000')"
        )
        conn.execute(
            "INSERT INTO runs (id, automation, content_hash, prompt_snapshot, subject_key,"
            " event_id, status, attempt, retryable, queued_at, input_tokens, output_tokens,"
            " cache_read_tokens, cache_write_tokens, cost_usd, turns) VALUES"
            " ('01OLDRUN0000000000000000AA', 'planner', 'h1', 'name: planner', 'issue:3', 1,"
            " 'succeeded', 1, 0, '2026-01-02 03:04:06.000000', 100, 20, 0, 0, 0.25, 2)"
        )
        conn.execute(
            "INSERT INTO steps (run_id, seq, kind, payload, input_tokens, output_tokens,"
            " cache_read_tokens, cache_write_tokens, cost_usd, created_at) VALUES"
            " ('01OLDRUN0000000000000000AA', 1, 'model_response', '{\"x\": 1}', 0, 0, 0, 0,"
            " 0.0, '2026-01-02 03:04:07.000000')"
        )


def _applied(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]


def test_database_at_first_migration_records_only_it(tmp_path: Path) -> None:
    """Opening with the truncated migration list applies and records only 001."""
    path = tmp_path / "old.db"
    _build_at_first_migration(path)
    assert _applied(path) == ["001_initial"]


def test_open_applies_the_remaining_migrations(tmp_path: Path) -> None:
    """Reopening a database left at migration 001 applies every later migration."""
    path = tmp_path / "old.db"
    _build_at_first_migration(path)
    RunStore.open(path).close()
    assert _applied(path) == [m.name for m in MIGRATIONS]


def test_upgrade_keeps_existing_rows(tmp_path: Path) -> None:
    """A run written at migration 001 reads back intact after the upgrade."""
    path = tmp_path / "old.db"
    _build_at_first_migration(path)
    with RunStore.open(path) as store:
        run = store.get_run("01OLDRUN0000000000000000AA")
    assert (run.automation, run.status, run.input_tokens, run.cost_usd) == (
        "planner",
        "succeeded",
        100,
        0.25,
    )


def test_upgraded_steps_get_empty_text_and_keep_payload(tmp_path: Path) -> None:
    """A step from before 002 has the new text column empty and its payload intact."""
    path = tmp_path / "old.db"
    _build_at_first_migration(path)
    with RunStore.open(path) as store:
        [step] = store.steps("01OLDRUN0000000000000000AA")
    assert (step.payload, step.text) == ({"x": 1}, "")


def test_upgraded_store_accepts_new_steps_after_old_ones(tmp_path: Path) -> None:
    """After the upgrade, a new step on an old run continues its sequence."""
    path = tmp_path / "old.db"
    _build_at_first_migration(path)
    with RunStore.open(path) as store:
        assert store.add_step("01OLDRUN0000000000000000AA", "notice", {}, text="t") == 2


@pytest.mark.sqlite_only  # reads the file with plain sqlite3
def test_reopening_applies_nothing(store: RunStore, db_path: Path) -> None:
    """Opening an up-to-date database twice records each migration once."""
    RunStore.open(db_path).close()
    assert _applied(db_path) == [m.name for m in MIGRATIONS]


@pytest.mark.sqlite_only  # reads the file with plain sqlite3
def test_unknown_migration_in_database_is_refused(store: RunStore, db_path: Path) -> None:
    """A database with a migration this code does not know raises StoreError naming it."""
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO schema_migrations VALUES ('999_from_the_future', '2030-01-01 00:00:00')"
        )
    with pytest.raises(StoreError, match="999_from_the_future"):
        RunStore.open(db_path)


@pytest.mark.sqlite_only  # reads the file with plain sqlite3
def test_migrated_schema_matches_the_table_definitions(store: RunStore, db_path: Path) -> None:
    """Every table, column and index in tables.py exists after migrating, and no more.

    The FTS5 search index (``steps_fts*``, virtual tables kept by triggers) is not a
    SQLAlchemy table and is left out.
    """
    inspector = inspect(create_engine(f"sqlite:///{db_path}"))
    in_db = {
        t: (
            {c["name"] for c in inspector.get_columns(t)},
            {i["name"] for i in inspector.get_indexes(t)},
        )
        for t in inspector.get_table_names()
        if not t.startswith("steps_fts")
    }
    declared = {
        t.name: ({c.name for c in t.columns}, {i.name for i in t.indexes})
        for t in metadata.sorted_tables
    }
    assert in_db == declared
