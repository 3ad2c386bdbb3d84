"""Fixtures for the store tests: a fresh store on each backend and factories for rows.

``db_path`` (and so ``store``) is parametrized over SQLite (a file in tmp_path) and PostgreSQL
(a fresh database on the session's test server, as a URL that ``RunStore.open`` accepts in
place of the path). Tests about SQLite itself are marked ``sqlite_only`` and run once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from factory.events import Event, Subject
from factory.store import RunStore
from factory.testing.postgres import PostgresServer

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the PostgreSQL variant of every test marked ``sqlite_only``."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("db_path") if callspec is not None else None
        if backend == "postgresql" and item.get_closest_marker("sqlite_only"):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def migrated_template(postgres_server: PostgresServer) -> str:
    """The name of a fully migrated PostgreSQL database that fresh stores are copied from."""
    name = "factory_migrated_template"
    RunStore.open(postgres_server.create_database(name=name)).close()
    return name


@pytest.fixture(params=BACKENDS)
def db_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Where the test's database lives: a SQLite file, or a fresh PostgreSQL database's URL
    (a copy of the migrated template when the test also takes ``store``, else empty)."""
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        if "store" in request.fixturenames:
            url = server.create_database(request.getfixturevalue("migrated_template"))
        else:
            url = server.create_database()
        return url  # type: ignore[return-value]  # RunStore.open takes a URL for a path
    return tmp_path / "factory.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[RunStore]:
    """A fresh, fully migrated, writable store."""
    with RunStore.open(db_path) as s:
        yield s


def build_event(dedup_key: str = "gh-1", number: int = 12, **fields: object) -> Event:
    """Return a GitHub issues.labeled event about issue ``number``."""
    values: dict[str, object] = {
        "source": "github",
        "kind": "issues.labeled",
        "dedup_key": dedup_key,
        "subject": Subject(kind="issue", number=number, title="Fix it"),
        "actor": "octocat",
        "trust": "maintainers",
        "payload": {"label": {"name": "factory:ready"}},
    }
    values.update(fields)
    return Event.model_validate(values)


@pytest.fixture
def make_event() -> Callable[..., Event]:
    """Return a factory of GitHub issues.labeled events (dedup_key, number, other fields)."""
    return build_event


@pytest.fixture
def make_run(store: RunStore) -> Callable[..., str]:
    """Return a factory that queues a run in ``store`` and returns its id."""

    def make(
        automation: str = "builder", subject_key: str | None = "issue:12", **kw: object
    ) -> str:
        return store.create_run(automation, subject_key=subject_key, **kw)  # type: ignore[arg-type]

    return make
