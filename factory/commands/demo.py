"""``factoryd demo``: the whole factory offline — FakeGitHub, a scripted model, the real daemon.

The daemon is the one ``factoryd start`` runs, unchanged, pointed by its settings at
FakeGitHub (a sample repository with three issues) and at FakeAnthropic playing a scripted
builder that really edits the sample code and runs its tests in the sandbox. The
maintainer-labelled issue becomes a pull request; the outsider's is skipped by the trust
gate. Without ``serve`` it prints what happened and stops; with it, everything keeps running
for a person to poke at.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from factory.commands.transcript import runs_table
from factory.daemon.process import Daemon
from factory.store import RunStore
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.fake_github import FakeGitHub
from factory.testing.relay import WebhookRelay
from factory.testing.sample import REPO, ScriptedBuilder, fake_settings, label_world, seed_world

DEMO_SECRET = "demo-webhook-secret"  # noqa: S105  (a demo value, printed on purpose)
"""The demo's webhook secret (printed with --serve so a person can sign deliveries)."""


@dataclass(frozen=True)
class DemoResult:
    """What the demo did."""

    pull_requests: list[str]
    runs: str
    db_path: Path


def run_demo(
    root: Path,
    *,
    serve: bool = False,
    port: int = 8765,
    timeout_s: float = 120.0,
    say: Callable[[str], None] = print,
) -> DemoResult:
    """Run the demo in ``root`` (emptied first); return what it did.

    Raises StartRefused / DaemonAlreadyRunning / OSError as ``Daemon.start`` does, TimeoutError
    when the runs do not finish within ``timeout_s``.
    """
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    with FakeGitHub(root / "github") as github, FakeAnthropic() as anthropic:
        anthropic.responder = ScriptedBuilder()
        world = seed_world(github, label=False)
        daemon = Daemon(
            fake_settings(
                github, anthropic, data_dir=root / "data", webhook_secret=DEMO_SECRET, port=port
            )
        )
        daemon.start()
        assert daemon.http is not None
        url = f"http://127.0.0.1:{daemon.http.port}"
        relay = WebhookRelay(github, f"{url}/webhooks/github", DEMO_SECRET).start()
        say(f"factoryd demo: daemon on {url}, FakeGitHub on {github.api_url}")
        say(
            f"labelling #{world.bug} (by maintainer mara) and #{world.outsider_ready} "
            "(by outsider otto) with factory:ready …"
        )
        loop = threading.Thread(target=daemon.run_loop, name="daemon-loop", daemon=True)
        loop.start()
        label_world(github, world)
        try:
            _wait_for_builder(daemon, timeout_s)
        finally:
            if not serve:
                daemon.stopping.set()
                daemon.wake.set()
                loop.join(timeout=30)
                relay.stop()
        result = _summary(daemon, github)
        _report(result, say, url)
        if serve:
            say("")
            say(f"serving: daemon {url}  (viewer {url}/runs, health {url}/healthz)")
            say(f"FakeGitHub API {github.api_url}  repository {REPO}")
            say(f"webhook secret: {DEMO_SECRET}  (sign deliveries to {url}/webhooks/github)")
            say("Ctrl-C stops everything.")
            try:
                while loop.is_alive():
                    loop.join(timeout=0.5)
            except KeyboardInterrupt:
                daemon.stopping.set()
                daemon.wake.set()
                loop.join(timeout=30)
            relay.stop()
        return result


def _wait_for_builder(daemon: Daemon, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = daemon.store.list_runs(automation="builder", limit=100)
        if len(runs) >= 2 and all(r.finished for r in runs):
            return
        time.sleep(0.2)
    raise TimeoutError(f"the demo's builder runs did not finish within {timeout_s:.0f}s")


def _summary(daemon: Daemon, github: FakeGitHub) -> DemoResult:
    pulls = [
        f"#{p.number} {github.issue(REPO, p.number).title} (branch {p.head_ref})"
        for p in github.repo(REPO).pulls.values()
    ]
    with RunStore.open(daemon.settings.db_path, readonly=True) as store:
        table = runs_table(store.list_runs(limit=50))
    return DemoResult(pulls, table, daemon.settings.db_path)


def _report(result: DemoResult, say: Callable[[str], None], url: str) -> None:
    say("")
    say("runs:")
    say(result.runs)
    say("")
    say("pull requests opened:" if result.pull_requests else "no pull request was opened")
    for line in result.pull_requests:
        say(f"  {line}")
    say("")
    say("look closer:")
    say(f"  factoryd runs --db {result.db_path}")
    say(f"  factoryd show RUN_ID --db {result.db_path}")
    say(f"  factoryd viewer --db {result.db_path}   (or {url} while it serves)")
