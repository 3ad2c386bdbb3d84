"""Engines for the SQLite store: WAL, busy_timeout, foreign keys, explicit transactions.

pysqlite's own transaction handling is switched off (``isolation_level=None``) so that
SQLAlchemy's begin emits our BEGIN: ``BEGIN IMMEDIATE`` for writes (the write lock is
taken up front, so two writers queue on busy_timeout instead of failing to upgrade a
read lock), a plain deferred ``BEGIN`` for reads (WAL readers never block the writer).

Durability: connections run ``synchronous=NORMAL`` (in WAL mode a commit survives a crash of
the process, kill -9, but the last commits can be lost on power loss). A transaction begun
with the ``DURABLE`` option switches its connection to ``FULL`` just before its BEGIN, so
its commit is fsynced before it returns: used where a commit is acknowledged to someone
outside (an event stored for a webhook's 2xx). The caller switches it back after the commit.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import QueuePool

BUSY_TIMEOUT_MS = 5000
IMMEDIATE = "factory_immediate"
"""Execution option: when true, the connection's transactions begin with BEGIN IMMEDIATE."""
DURABLE = "factory_durable"
"""Execution option: when true, the transaction commits with synchronous=FULL."""
FULL, NORMAL = "FULL", "NORMAL"


def set_synchronous(conn: Connection, level: str) -> None:
    """Set ``PRAGMA synchronous`` on ``conn``'s SQLite connection, outside any transaction.

    Goes to the driver connection directly: through SQLAlchemy the statement would begin a
    transaction first. Raises ValueError for a level other than FULL or NORMAL.
    """
    if level not in (FULL, NORMAL):
        raise ValueError(f"synchronous must be FULL or NORMAL, got {level!r}")
    if conn.dialect.name != "sqlite":  # PostgreSQL: SET LOCAL in the transaction (pg_engine)
        return
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA synchronous = {level}")


def make_engine(path: Path, *, readonly: bool = False) -> Engine:
    """Return an Engine on the SQLite file at ``path`` (read-only via a ``mode=ro`` URI).

    The file is not touched until the first connection. Read-only connections cannot write
    and do not create a missing file (connecting then raises sqlite3.OperationalError).
    """
    resolved = path.resolve()

    def connect() -> sqlite3.Connection:
        if readonly:
            uri = f"file:{quote(str(resolved))}?mode=ro"
            return sqlite3.connect(
                uri, uri=True, check_same_thread=False, isolation_level=None, timeout=5.0
            )
        return sqlite3.connect(
            str(resolved), check_same_thread=False, isolation_level=None, timeout=5.0
        )

    engine = create_engine("sqlite+pysqlite://", creator=connect, poolclass=QueuePool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA synchronous = {NORMAL}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get(DURABLE, False):
            set_synchronous(conn, FULL)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(IMMEDIATE, False) else "BEGIN")

    return engine
