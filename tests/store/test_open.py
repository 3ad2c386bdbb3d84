"""Opening the store: pragmas, read-only mode and its refusals."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from factory.errors import StoreError
from factory.store import MIGRATIONS, RunStore
from factory.store.engine import BUSY_TIMEOUT_MS


def _pragma(store: RunStore, name: str) -> object:
    with store._read() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


@pytest.mark.sqlite_only  # PRAGMAs and WAL: SQLite settings
def test_journal_mode_is_wal(store: RunStore) -> None:
    """A writable store puts the database file in WAL mode."""
    assert _pragma(store, "journal_mode") == "wal"


@pytest.mark.sqlite_only  # PRAGMAs and WAL: SQLite settings
def test_wal_mode_persists_in_the_file(store: RunStore, db_path: Path) -> None:
    """A plain sqlite3 connection sees the file in WAL mode after the store opened it."""
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.sqlite_only  # PRAGMAs and WAL: SQLite settings
def test_foreign_keys_are_on(store: RunStore) -> None:
    """Every store connection enforces foreign keys."""
    assert _pragma(store, "foreign_keys") == 1


@pytest.mark.sqlite_only  # PRAGMAs and WAL: SQLite settings
def test_busy_timeout_is_set(store: RunStore) -> None:
    """Every store connection waits on a locked database instead of failing at once."""
    assert _pragma(store, "busy_timeout") == BUSY_TIMEOUT_MS


def test_open_creates_missing_parent_directories(tmp_path: Path) -> None:
    """Opening a writable store under a missing directory creates the directory and file."""
    path = tmp_path / "a" / "b" / "factory.db"
    RunStore.open(path).close()
    assert path.is_file()


def test_readonly_missing_database_names_the_path(tmp_path: Path) -> None:
    """Opening a missing database read-only raises StoreError naming the path."""
    path = tmp_path / "nope.db"
    with pytest.raises(StoreError, match=r"nope\.db"):
        RunStore.open(path, readonly=True)


def test_readonly_does_not_create_the_file(tmp_path: Path) -> None:
    """A failed read-only open leaves no database file behind."""
    path = tmp_path / "nope.db"
    with pytest.raises(StoreError):
        RunStore.open(path, readonly=True)
    assert not path.exists()


def test_readonly_store_refuses_writes(store: RunStore, db_path: Path) -> None:
    """A read-only store raises StoreError on a write and the row is not written."""
    run_id = store.create_run("builder")
    with RunStore.open(db_path, readonly=True) as ro, pytest.raises(StoreError, match="read-only"):
        ro.add_step(run_id, "notice", {"text": "hi"})
    assert store.steps(run_id) == []


def test_readonly_store_reads_what_the_writer_wrote(store: RunStore, db_path: Path) -> None:
    """A read-only store sees rows committed by the writable store."""
    run_id = store.create_run("builder")
    with RunStore.open(db_path, readonly=True) as ro:
        assert ro.get_run(run_id).automation == "builder"


@pytest.mark.sqlite_only  # SQLite's mode=ro wording; PostgreSQL: default_transaction_read_only
def test_readonly_connection_cannot_write_even_with_raw_sql(store: RunStore, db_path: Path) -> None:
    """The read-only engine uses a mode=ro connection that SQLite itself refuses to write."""
    with (
        RunStore.open(db_path, readonly=True) as ro,
        ro._engine.connect() as conn,
        pytest.raises(Exception, match="readonly"),
    ):
        conn.exec_driver_sql("DELETE FROM runs")


def test_readonly_refuses_a_database_at_an_earlier_migration(tmp_path: Path) -> None:
    """Read-only open of a database lacking migrations raises StoreError naming what lacks."""
    path = tmp_path / "old.db"
    RunStore.open(path, migrations=MIGRATIONS[:1]).close()
    with pytest.raises(StoreError, match="002_search_text_and_indexes"):
        RunStore.open(path, readonly=True)


def test_readonly_reads_after_the_writer_closed(tmp_path: Path) -> None:
    """A read-only store opens a WAL database whose writer has closed (no -wal/-shm left)."""
    path = tmp_path / "closed.db"
    with RunStore.open(path) as writer:
        run_id = writer.create_run("planner")
    with RunStore.open(path, readonly=True) as ro:
        assert ro.get_run(run_id).automation == "planner"
