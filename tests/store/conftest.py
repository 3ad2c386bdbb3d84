"""Fixtures for the store tests: a fresh store in tmp_path and factories for rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from factory.events import Event, Subject
from factory.store import RunStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's database file lives."""
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
