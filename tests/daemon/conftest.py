"""The whole daemon against FakeGitHub and FakeAnthropic (real HTTP, real git, real bwrap)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from factory.daemon.process import Daemon
from factory.settings import Settings
from factory.store import RunRecord, RunStore
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.fake_github import FakeGitHub
from factory.testing.processes import wait_until
from factory.testing.relay import WebhookRelay
from factory.testing.sample import ScriptedBuilder, World, fake_settings, seed_world

ROOT = Path(__file__).resolve().parents[2]
SECRET = "webhook-secret-for-tests"


def wait_for(predicate: Callable[[], Any], timeout_s: float = 60.0, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after the timeout."""
    try:
        return wait_until(predicate, timeout_s, what or str(predicate))
    except TimeoutError as exc:
        pytest.fail(str(exc))


def daemon_settings(
    github: FakeGitHub,
    anthropic: FakeAnthropic,
    tmp: Path,
    *,
    automations: Path,
    harness: Path,
    **overrides: Any,
) -> Settings:
    """Settings of a daemon over these fakes: its data in ``tmp/data``, the tests' webhook
    secret, the automations and harness given (``overrides``: port, poll interval)."""
    return fake_settings(
        github,
        anthropic,
        data_dir=tmp / "data",
        webhook_secret=SECRET,
        automations_dir=automations,
        harness_dir=harness,
        **overrides,
    )


@dataclass
class Factory:
    """A seeded FakeGitHub, a scripted FakeAnthropic and the settings pointing at them."""

    github: FakeGitHub
    anthropic: FakeAnthropic
    world: World
    settings: Settings
    tmp: Path

    def daemon(self, **overrides: Any) -> Daemon:
        """Return a Daemon (not started) over these settings with ``overrides``."""
        return Daemon(self.settings.model_copy(update=overrides))

    def store(self) -> RunStore:
        """Open the daemon's store read-only."""
        return RunStore.open(self.settings.db_path, readonly=True)

    def runs(self, automation: str | None = None) -> list[RunRecord]:
        """Every run so far (read-only store), newest first."""
        with self.store() as store:
            return store.list_runs(automation=automation, limit=1000)


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[Factory]:
    """A fresh world: sample repo with three issues (not yet labeled) and a scripted model."""
    automations = Path(shutil.copytree(ROOT / "automations", tmp_path / "automations"))
    harness = Path(shutil.copytree(ROOT / "harness", tmp_path / "harness"))
    with FakeGitHub(tmp_path / "github") as github, FakeAnthropic() as anthropic:
        anthropic.responder = ScriptedBuilder()
        world = seed_world(github, label=False)
        settings = daemon_settings(
            github,
            anthropic,
            tmp_path,
            automations=automations,
            harness=harness,
        )
        yield Factory(github, anthropic, world, settings, tmp_path)


def daemon_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment of a ``python -m factory start`` child running with ``settings``."""
    env = settings.to_env()
    env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), FACTORY_LOG_FORMAT="json")
    env.update(overrides)
    return env


@dataclass
class Running:
    """A started daemon whose loop runs in a thread, with webhooks relayed to it."""

    daemon: Daemon
    thread: threading.Thread
    relay: WebhookRelay | None

    def stop(self) -> None:
        """Stop the loop (as SIGTERM would) and wait for the shutdown to finish."""
        self.daemon.stopping.set()
        self.daemon.wake.set()
        self.thread.join(timeout=30)
        if self.relay is not None:
            self.relay.stop()


def run_daemon(factory: Factory, *, webhooks: bool = True, **overrides: Any) -> Running:
    """Start a daemon over ``factory`` and run its loop in a thread."""
    daemon = factory.daemon(**overrides)
    daemon.start()
    relay = None
    if webhooks:
        assert daemon.http is not None
        url = f"http://127.0.0.1:{daemon.http.port}/webhooks/github"
        relay = WebhookRelay(factory.github, url, SECRET).start()
    thread = threading.Thread(target=daemon.run_loop, name="daemon-loop", daemon=True)
    thread.start()
    return Running(daemon, thread, relay)
