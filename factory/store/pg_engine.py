"""Engines for the PostgreSQL store (psycopg 3): the same two kinds of transaction as SQLite.

* Writes (``IMMEDIATE``) begin by taking one transaction-scoped advisory lock,
  ``pg_advisory_xact_lock(WRITE_LOCK)``: writers from every process queue on it exactly as
  SQLite's ``BEGIN IMMEDIATE`` queues them on the file's write lock, so the store's
  read-then-write code (a step's next ``seq``, a run's status checked before it is started,
  ``dispatched_at`` set once) sees every earlier commit and never interleaves with another
  writer. Statements run at READ COMMITTED, so each one after the lock sees the latest commits.
  Unique constraints (event dedup keys, output idempotency keys) refuse duplicates as on SQLite.
* Reads run in a REPEATABLE READ, READ ONLY transaction: one consistent snapshot, never
  blocking or blocked by a writer (what WAL readers get on SQLite).
* ``DURABLE`` sets ``synchronous_commit = on`` for its transaction (the commit is flushed
  to the WAL before it returns, whatever the server's default).
* A read-only store's connections run with ``default_transaction_read_only = on``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError

from factory.store.engine import DURABLE, IMMEDIATE

WRITE_LOCK = 0x0FAC7077
"""The advisory lock key every store write holds for its transaction."""
POOL_SIZE = 5


def is_database_url(location: str) -> bool:
    """Return True if ``location`` is a SQLAlchemy database URL rather than a file path."""
    if "://" not in location:
        return False
    try:
        make_url(location)
    except ArgumentError:
        return False
    return True


def safe_url(url: str) -> str:
    """Return ``url`` with any password hidden (for logs and error messages)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable database URL)"


def make_pg_engine(url: str, *, readonly: bool = False) -> Engine:
    """Return an Engine on the PostgreSQL database at ``url`` (nothing connects until used)."""
    options = "-c timezone=UTC -c lock_timeout=30000"
    if readonly:
        options += " -c default_transaction_read_only=on"
    engine = create_engine(
        url,
        pool_size=POOL_SIZE,
        max_overflow=10,
        pool_pre_ping=True,
        isolation_level="READ COMMITTED",
        connect_args={"options": options, "connect_timeout": 10},
    )

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        opts: dict[str, Any] = dict(conn.get_execution_options())
        if opts.get(IMMEDIATE, False):
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
            if opts.get(DURABLE, False):
                conn.exec_driver_sql("SET LOCAL synchronous_commit = on")
        else:
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    return engine
