"""Agent test fixtures: FakeAnthropic + AnthropicModel, the bwrap sandbox, a git repo, sessions."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from factory.agent.model import AnthropicModel
from factory.agent.session import Session, SessionConfig, sandbox_registry
from factory.interfaces import Sandbox
from factory.store import RunStore
from factory.testing.fake_anthropic import FakeAnthropic
from tests.conftest import SONNET_PRICES


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A git repository with a tiny Python package and a unittest suite."""
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "greet.py").write_text('def greet(name):\n    return "hi " + name\n')
    (repo / "tests" / "__init__.py").write_text("")
    (repo / "tests" / "test_greet.py").write_text(
        "import unittest\n\nfrom greet import greet\n\n\n"
        "class T(unittest.TestCase):\n"
        "    def test_greet(self):\n"
        '        self.assertEqual(greet("bo"), "hello bo")\n'
    )
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    return repo


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    """A running FakeAnthropic server that caches prompts of any length."""
    # The sessions here have short prompts; the per-model minimum is tested on its own.
    with FakeAnthropic(min_cacheable_tokens=0) as server:
        yield server


@pytest.fixture
def model(fake: FakeAnthropic) -> Iterator[AnthropicModel]:
    """The real AnthropicModel talking to ``fake``."""
    client = AnthropicModel("test-key", fake.base_url, max_retries=0, overloaded_retries=0)
    yield client
    client.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    """A real RunStore (SQLite) in ``tmp_path``."""
    with RunStore.open(tmp_path / "agent.db") as run_store:
        yield run_store


@pytest.fixture
def make_session(
    model: AnthropicModel, sandbox: Sandbox, workspace: Path, store: RunStore
) -> Callable[..., tuple[Session, Any]]:
    """Return a factory of sessions over the test workspace.

    Keyword args go to SessionConfig, except ``clock``, ``cancel_event``, ``recorder``
    (default the ``store`` fixture) and ``run_id`` (default a new run in ``store``).
    """

    def make(**overrides: Any) -> tuple[Session, Any]:
        clock = overrides.pop("clock", time.monotonic)
        cancel_event = overrides.pop("cancel_event", None)
        recorder = overrides.pop("recorder", None) or store
        run_id = overrides.pop("run_id", None) or store.create_run("agent-test")
        config = SessionConfig(**{"model": "claude-sonnet-test", **overrides})
        session = Session(
            model,
            sandbox_registry(sandbox, workspace, config),
            config,
            recorder,
            run_id,
            SONNET_PRICES.cost_usd,
            cancel_event=cancel_event,
            clock=clock,
        )
        return session, recorder

    return make
