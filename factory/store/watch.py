"""Noticing work another process stored: ``PRAGMA data_version`` on a dedicated connection.

SQLite changes a connection's ``data_version`` whenever any other connection (in this
process or another: the CLI's ``factoryd run``) commits to the file. Reading it touches no
table, so polling it every 0.05 s is nearly free; only when it moved do we ask the store
whether a due queued run or an undispatched event is waiting, and then wake the daemon's
loop instead of leaving the work until its next 1 s tick.

On PostgreSQL (a store opened by URL) the counter is the server's WAL insert position,
``pg_current_wal_insert_lsn()``: every commit anywhere moves it, reading it touches no table,
and a move caused by something else only costs the same two cheap queries.
"""

from __future__ import annotations

import sqlite3
import threading
from urllib.parse import quote

import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from factory.store.runstore import RunStore

log = structlog.get_logger(__name__)

POLL_S = 0.05
"""How often the data version is read: a run queued elsewhere starts well within 0.2 s."""


class WorkWatch:
    """Tells whether the store changed since the last look and now holds work to start."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self._conn: sqlite3.Connection | None = None
        self._pg: Connection | None = None
        if store.url is not None:
            self._pg = store._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        else:
            uri = f"file:{quote(str(store.path.resolve()))}?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=5.0)
        self._version = self._data_version()

    def _data_version(self) -> str:
        if self._pg is not None:
            return str(self._pg.exec_driver_sql("SELECT pg_current_wal_insert_lsn()").scalar())
        assert self._conn is not None
        return str(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def changed(self) -> bool:
        """Return True if another connection committed since the last call (or creation)."""
        version = self._data_version()
        moved, self._version = version != self._version, version
        return moved

    def work_waiting(self) -> bool:
        """Return True when a queued run is due or a stored event awaits dispatch."""
        return bool(self.store.queued_runs(limit=1) or self.store.undispatched_events(limit=1))

    def close(self) -> None:
        """Close the dedicated connection."""
        if self._conn is not None:
            self._conn.close()
        if self._pg is not None:
            self._pg.close()


def watch_for_work(
    store: RunStore, wake: threading.Event, stop: threading.Event, poll_s: float = POLL_S
) -> None:
    """Until ``stop`` is set, set ``wake`` within ``poll_s`` of work being stored by anyone."""
    watch = WorkWatch(store)
    try:
        while not stop.wait(poll_s):
            try:
                if watch.changed() and watch.work_waiting():
                    wake.set()
            except (
                sqlite3.Error,
                SQLAlchemyError,
                OSError,
            ) as exc:  # busy or vanished: the 1 s tick remains
                log.warning("work_watch_failed", error=str(exc))
    finally:
        watch.close()
