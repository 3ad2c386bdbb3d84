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
from sqlalchemy import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from factory.errors import StoreError
from factory.store.engine import DURABLE, IMMEDIATE, NORMAL, make_engine, set_synchronous
from factory.store.migrations import MIGRATIONS, Migration, applied_migrations, migrate
from factory.store.pg_engine import is_database_url, make_pg_engine, safe_url

log = structlog.get_logger(__name__)


_SQLSTATE_KINDS = {
    "23503": "FOREIGN KEY",
    "23505": "UNIQUE",
    "23502": "NOT NULL",
    "23514": "CHECK",
}


def constraint_kind(exc: IntegrityError) -> str:
    """Return SQLite's name for the violated kind of constraint (``"UNIQUE constraint failed: "``)
    for a PostgreSQL error, so messages read the same on both; empty for SQLite's own."""
    kind = _SQLSTATE_KINDS.get(str(getattr(exc.orig, "sqlstate", "") or ""))
    return f"{kind} constraint failed: " if kind else ""


class StoreBase:
    """The engine, the write lock and the transaction helpers shared by the store's parts."""

    def __init__(
        self, engine: Engine, path: Path, *, readonly: bool, url: str | None = None
    ) -> None:
        self._engine = engine
        self.path = path
        self.url = url
        """The database URL when opened by URL (PostgreSQL), else None (a SQLite file)."""
        self.where = str(path) if url is None else safe_url(url)
        """What error messages call the store: its file, or its URL without password."""
        self.readonly = readonly
        self._lock = threading.RLock()

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        readonly: bool = False,
        migrations: tuple[Migration, ...] = MIGRATIONS,
    ) -> Self:
        """Open (and, unless read-only, create and migrate) the store at ``path``.

        ``migrations`` exists for tests that build a database at an earlier migration.
        Raises StoreError naming the path if a read-only store's file is missing or not
        fully migrated, or if the file cannot be opened or migrated. A database URL
        (``postgresql+psycopg://…``) in place of the path is opened with ``open_url``.
        """
        if isinstance(path, str) and is_database_url(path):
            return cls.open_url(path, readonly=readonly, migrations=migrations)
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

    @classmethod
    def open_url(
        cls,
        url: str,
        *,
        readonly: bool = False,
        migrations: tuple[Migration, ...] = MIGRATIONS,
    ) -> Self:
        """Open (and, unless read-only, migrate) the store at a SQLAlchemy database URL.

        ``sqlite:///PATH`` opens that file as ``open`` does; ``postgresql+psycopg://…`` opens
        PostgreSQL with the same tables and migrations. Raises StoreError naming the URL
        (without its password) if the database cannot be reached, migrated, or (read-only)
        lacks migrations.
        """
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if not parsed.database:
                raise StoreError(f"database URL {safe_url(url)} names no SQLite file")
            return cls.open(Path(parsed.database), readonly=readonly, migrations=migrations)
        if parsed.get_backend_name() != "postgresql":
            raise StoreError(f"database URL {safe_url(url)}: only sqlite and postgresql work")
        store = cls(make_pg_engine(url, readonly=readonly), Path(), readonly=readonly, url=url)
        try:
            if readonly:
                store._check_migrated(migrations)
                return store
            with store._write() as conn:
                applied = migrate(conn, migrations)
        except (StoreError, SQLAlchemyError) as exc:
            store.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"run store {store.where}: cannot open: {exc}") from exc
        log.info("store_opened", url=store.where, migrations_applied=applied)
        return store

    def _check_migrated(self, migrations: tuple[Migration, ...]) -> None:
        with self._read() as conn:
            done = set(applied_migrations(conn))
        missing = [m.name for m in migrations if m.name not in done]
        if missing:
            self.close()
            raise StoreError(
                f"run store {self.where} lacks migrations {missing}; open it read-write"
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
            raise StoreError(f"run store {self.where} is open read-only; writes are refused")
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
            except (OperationalError, DBAPIError) as exc:
                if isinstance(exc, IntegrityError):
                    reason = constraint_kind(exc)
                    raise StoreError(
                        f"run store {self.where}: write refused: {reason}{exc.orig}"
                    ) from exc
                raise StoreError(f"run store {self.where}: write failed: {exc.orig}") from exc
            except IntegrityError as exc:
                raise StoreError(f"run store {self.where}: write refused: {exc.orig}") from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """Yield a connection in a read transaction (one consistent snapshot).

        Raises StoreError if SQLite reports an operational error (e.g. the file vanished).
        """
        try:
            with self._engine.connect() as conn, conn.begin():
                yield conn
        except (OperationalError, DBAPIError) as exc:
            raise StoreError(f"run store {self.where}: read failed: {exc.orig}") from exc
