"""Opening the store and its two kinds of transaction (one in-process writer, many readers).

Writes take an in-process lock and a ``BEGIN IMMEDIATE`` transaction; other processes
wait on SQLite's busy_timeout (WAL lets readers go on meanwhile). A read-only store
opens the file with ``mode=ro``, never migrates and refuses every write with StoreError.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import structlog
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from factory.errors import StoreError
from factory.store.engine import DURABLE, IMMEDIATE, NORMAL, make_engine, set_synchronous
from factory.store.migrations import MIGRATIONS, Migration, applied_migrations, migrate

log = structlog.get_logger(__name__)


class StoreBase:
    """The engine, the write lock and the transaction helpers shared by the store's parts."""

    def __init__(self, engine: Engine, path: Path, *, readonly: bool) -> None:
        self._engine = engine
        self.path = path
        self.readonly = readonly
        self._lock = threading.RLock()

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        readonly: bool = False,
        migrations: tuple[Migration, ...] = MIGRATIONS,
    ) -> Self:
        """Open (and, unless read-only, create and migrate) the store at ``path``.

        ``migrations`` exists for tests that build a database at an earlier migration.
        Raises StoreError naming the path if a read-only store's file is missing or not
        fully migrated, or if the file cannot be opened or migrated.
        """
        path = Path(path)
        if readonly:
            if not path.is_file():
                raise StoreError(f"run store {path} does not exist (opened read-only)")
            store = cls(make_engine(path, readonly=True), path, readonly=True)
            store._check_migrated(migrations)
            return store
        path.parent.mkdir(parents=True, exist_ok=True)
        store = cls(make_engine(path), path, readonly=False)
        with store._write() as conn:
            applied = migrate(conn, migrations)
        log.info("store_opened", path=str(path), migrations_applied=applied)
        return store

    def _check_migrated(self, migrations: tuple[Migration, ...]) -> None:
        with self._read() as conn:
            done = set(applied_migrations(conn))
        missing = [m.name for m in migrations if m.name not in done]
        if missing:
            self.close()
            raise StoreError(
                f"run store {self.path} lacks migrations {missing}; open it read-write"
                " (e.g. start the daemon) to upgrade it"
            )

    def close(self) -> None:
        """Close every pooled connection; the store must not be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self, *, durable: bool = False) -> Iterator[Connection]:
        """Yield a connection in a write transaction, committed on success.

        ``durable``: commit with ``synchronous=FULL`` (the WAL is fsynced at commit, so the
        write survives power loss, not only a crash of the process), then go back to NORMAL.
        Raises StoreError for a read-only store, if SQLite cannot take the write lock, or if
        a constraint (foreign key, unique) refuses the write.
        """
        if self.readonly:
            raise StoreError(f"run store {self.path} is open read-only; writes are refused")
        with self._lock:
            try:
                with self._engine.connect() as conn:
                    conn.execution_options(**{IMMEDIATE: True, DURABLE: durable})
                    try:
                        with conn.begin():
                            yield conn
                    finally:
                        if durable:
                            set_synchronous(conn, NORMAL)
            except OperationalError as exc:
                raise StoreError(f"run store {self.path}: write failed: {exc.orig}") from exc
            except IntegrityError as exc:
                raise StoreError(f"run store {self.path}: write refused: {exc.orig}") from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """Yield a connection in a read transaction (one consistent snapshot).

        Raises StoreError if SQLite reports an operational error (e.g. the file vanished).
        """
        try:
            with self._engine.connect() as conn, conn.begin():
                yield conn
        except OperationalError as exc:
            raise StoreError(f"run store {self.path}: read failed: {exc.orig}") from exc
