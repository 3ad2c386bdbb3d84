"""The whole daemon against FakeGitHub and FakeAnthropic (real HTTP, real git, real bwrap)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from factory.daemon import Daemon
from factory.settings import Settings
from factory.store import RunRecord, RunStore
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.fake_github import FakeGitHub
from factory.testing.relay import WebhookRelay
from factory.testing.sample import BOT_TOKEN, REPO, ScriptedBuilder, World, seed_world

ROOT = Path(__file__).resolve().parents[2]
SECRET = "webhook-secret-for-tests"


def wait_for(predicate: Callable[[], Any], timeout_s: float = 60.0, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what or predicate}")


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
        settings = Settings(
            github_repository=REPO,
            github_api_url=github.api_url,
            github_token=BOT_TOKEN,
            github_webhook_secret=SECRET,
            anthropic_api_key="sk-ant-test-key-for-fake",
            anthropic_base_url=anthropic.base_url,
            data_dir=tmp_path / "data",
            automations_dir=automations,
            harness_dir=harness,
            port=0,
            poll_interval_s=0,
            github_write_pacing_s=0,
            _env_file=None,  # type: ignore[call-arg]
        )
        yield Factory(github, anthropic, world, settings, tmp_path)


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
