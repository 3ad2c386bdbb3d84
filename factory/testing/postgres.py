"""A throwaway PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` in a temp dir, Unix socket only.

Debian's ``postgresql`` package provides the binaries (``/usr/lib/postgresql/N/bin``); initdb
refuses to run as root, so as root the server runs as the ``postgres`` user the package creates
(``runuser -u postgres``). The server listens on no TCP port, only on a socket in its own
directory, with fsync off (a test server: speed over durability). ``create_database`` makes a
fresh, empty database per test in milliseconds.

    server = PostgresServer.start(tmp_dir)
    url = server.create_database()   # postgresql+psycopg://postgres@/db_1?host=…
    server.stop()
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from factory.errors import FactoryError

SUPERUSER = "postgres"
START_TIMEOUT_S = 30


class PostgresUnavailableError(FactoryError):
    """The test PostgreSQL server could not be found or started (names the step that failed)."""


def find_bin_dir() -> Path:
    """Return the directory holding initdb/pg_ctl/postgres; raises PostgresUnavailableError."""
    on_path = shutil.which("pg_ctl")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted(
            (p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)
        )
        candidates += [p / "bin" for p in reversed(versions)]
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    raise PostgresUnavailableError(
        "no PostgreSQL server binaries (initdb, pg_ctl): install Debian's `postgresql` package"
        " (make sysdeps does)"
    )


def _run_as() -> list[str]:
    """The command prefix that runs the server as an unprivileged user (empty if not root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SUPERUSER)
    except KeyError as exc:
        raise PostgresUnavailableError(
            f"running as root and there is no {SUPERUSER!r} user to run PostgreSQL as"
        ) from exc
    return ["runuser", "-u", SUPERUSER, "--"]


@dataclass
class PostgresServer:
    """One running server; ``url(db)`` names a database on it for SQLAlchemy (psycopg 3)."""

    root: Path
    bin_dir: Path
    user: str
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _admin: psycopg.Connection[tuple[object, ...]] | None = None

    @property
    def socket_dir(self) -> Path:
        """The directory holding the server's Unix socket."""
        return self.root / "socket"

    @classmethod
    def start(cls, parent: Path | None = None) -> PostgresServer:
        """Initialise and start a server under a new temp dir in ``parent``.

        Raises PostgresUnavailableError with the failing step's output if it cannot start.
        """
        bin_dir = find_bin_dir()
        prefix = _run_as()
        root = Path(tempfile.mkdtemp(prefix="factory-pg-", dir=parent))
        data, sock = root / "data", root / "socket"
        sock.mkdir()
        user = SUPERUSER if prefix else pwd.getpwuid(os.geteuid()).pw_name
        if prefix:
            entry = pwd.getpwnam(SUPERUSER)
            for path in (root, sock):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        server = cls(root, bin_dir, user)
        server._step(
            [
                *prefix,
                str(bin_dir / "initdb"),
                *("-D", str(data), "-U", user, "-A", "trust"),
                *("-E", "UTF8", "--locale=C.UTF-8", "--no-sync"),
            ],
            "initdb",
        )
        options = (
            f"-k {sock} -c listen_addresses='' -c fsync=off -c synchronous_commit=off"
            " -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB"
        )
        server._step(
            [
                *prefix,
                str(bin_dir / "pg_ctl"),
                *("-D", str(data), "-l", str(root / "server.log")),
                *("-o", options, "-w", "-t", str(START_TIMEOUT_S), "start"),
            ],
            "pg_ctl start",
        )
        return server

    def _step(self, argv: list[str], what: str) -> None:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
            raise PostgresUnavailableError(
                f"PostgreSQL {what} failed (exit {done.returncode}): {done.stderr.strip()}"
                f" {done.stdout.strip()[-1000:]} {tail}"
            )

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server, over the Unix socket."""
        return f"postgresql+psycopg://{self.user}@/{database}?host={quote(str(self.socket_dir))}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with psql (autocommit) and return its unaligned output."""
        argv = [str(self.bin_dir / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
        argv += ["-h", str(self.socket_dir), "-U", self.user, "-d", database, "-c", sql]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PostgresUnavailableError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def create_database(self, template: str = "template0", name: str | None = None) -> str:
        """Create a new database, a copy of ``template`` (empty by default), and return its URL.

        Over one kept autocommit connection (a psql process per database costs ~0.1 s).
        """
        name = name or f"db_{os.getpid()}_{next(self._names)}"
        if self._admin is None:
            self._admin = psycopg.connect(
                host=str(self.socket_dir), user=self.user, dbname="postgres", autocommit=True
            )
        self._admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        data = self.root / "data"
        if data.is_dir():
            subprocess.run(
                [
                    *_run_as(),
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)
