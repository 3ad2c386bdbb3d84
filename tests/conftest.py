"""Shared test setup: the network is closed except loopback (pytest-socket, see pyproject)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

from factory.config.harness import TrustPolicy, load_harness
from factory.events import Trust
from factory.sandbox import BwrapSandbox
from factory.store import RunStore
from factory.testing.postgres import PostgresServer, PostgresUnavailableError

SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
DATA = Path(__file__).resolve().parent / "data"
SONNET_PRICES = load_harness(Path(__file__).resolve().parents[1] / "harness").policy.prices[
    "claude-sonnet-5"
]
"""The shipped policy's Sonnet prices (the one price table), for tests that need a price."""


@pytest.fixture
def data_dir() -> Path:
    """The tests' own data folder (``tests/data``)."""
    return DATA


@pytest.fixture(autouse=True)
def _clean_factory_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the host's real credentials or factoryd settings from the environment."""
    from factory.settings import Settings

    for field in Settings.model_fields.values():
        alias = field.validation_alias
        for name in getattr(alias, "choices", []):
            monkeypatch.delenv(str(name), raising=False)


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Each test starts and ends with structlog's default configuration."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture(autouse=True)
def _no_mount_left(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Overlay workspaces a test's daemon kept (failed runs) are unmounted after the test."""
    yield
    base = str(tmp_path_factory.getbasetemp()) + "/"
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    for target in sorted((m.split()[1] for m in mounts), reverse=True):
        if target.startswith(base):
            subprocess.run(["umount", "-l", target], check=False, capture_output=True)


@pytest.fixture
def sandbox() -> Iterator[BwrapSandbox]:
    """The real bubblewrap sandbox; whatever it still runs is killed after the test."""
    box = BwrapSandbox()
    try:
        yield box
    finally:
        box.kill_all()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    """A real run store in tmp_path."""
    run_store = RunStore.open(tmp_path / "factory.db")
    yield run_store
    run_store.close()


def static_trust(permissions: dict[str, str]) -> Callable[[str], Trust]:
    """Return a trust resolver over a fixed login → repository permission table."""
    return lambda login: TrustPolicy().trust_of(permissions.get(login, "none"))


class ManualClock:
    """A monotonic clock the test moves by hand (``clock.now += 5``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole session (Unix socket in a temp dir).

    Fails, never skips, if it cannot start: the PostgreSQL tests must run in CI.
    """
    try:
        server = PostgresServer.start()  # system temp: pytest's are root-only (0700)
    except PostgresUnavailableError as exc:
        pytest.fail(f"the test PostgreSQL server did not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty PostgreSQL database on the session's server."""
    return postgres_server.create_database()
