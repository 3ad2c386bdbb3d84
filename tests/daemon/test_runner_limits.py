"""A GitHub rate limit pauses a run and re-queues it for the reset; it never fails it.

The Runner is driven directly (no daemon) over a real RunStore, a real PyGithub client
against FakeGitHub and the AnthropicModel against FakeAnthropic.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from github import Auth, GithubException

from factory.agent.model import AnthropicModel
from factory.config.loader import FactoryConfig, load_factory
from factory.daemon.runenv import GitHubSide, RunEnv, is_retryable, rate_limit_resume
from factory.daemon.runner import Runner
from factory.daemon.wiring import Sandboxes
from factory.errors import GitHubRateLimited
from factory.events import utcnow
from factory.forge.claims import Claims
from factory.forge.client import Pacing, make_github
from factory.forge.trust import PermissionTrust
from factory.store import RunRecord, RunStore
from factory.testing.fake_anthropic import FakeAnthropic, FakeReply
from factory.testing.fake_github import FakeGitHub
from factory.testing.sample import BOT, BOT_TOKEN, REPO, World, seed_world
from factory.workspace import Mirror

ROOT = Path(__file__).resolve().parents[2]
BOUND_S = 5.0


@dataclass
class Bench:
    """A runner over the fakes, with the store and fakes to look at."""

    github: FakeGitHub
    anthropic: FakeAnthropic
    store: RunStore
    config: FactoryConfig
    runner: Runner
    world: World

    def run_triage(self) -> RunRecord:
        """Start a triage run on the bug issue, execute it, return its finished row."""
        run_id = self.store.create_run("triage", subject_key=f"issue:{self.world.bug}")
        self.store.start_run(run_id, "factoryd-test")
        run = self.store.get_run(run_id)
        self.runner.execute(run, threading.Event(), self.config.automations["triage"])
        return self.store.get_run(run_id)

    def next_attempt(self, run: RunRecord) -> RunRecord | None:
        """Return the queued attempt after ``run``, if one was queued."""
        queued = [r for r in self.store.list_runs(status="queued") if r.attempt == run.attempt + 1]
        return queued[0] if queued else None


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    """The sample world on FakeGitHub and a Runner whose client waits at most 5 s for limits."""
    with (
        FakeGitHub() as fake,
        FakeAnthropic() as anthropic,
        RunStore.open(tmp_path / "factory.db") as store,
    ):
        world = seed_world(fake, label=False)
        config = load_factory(ROOT / "automations", ROOT / "harness")
        pacing = Pacing(seconds_between_writes=0, backoff_factor=0, max_rate_limit_wait=BOUND_S)
        gh = make_github(auth=Auth.Token(BOT_TOKEN), base_url=fake.api_url, pacing=pacing)
        repo = gh.get_repo(REPO)
        side = GitHubSide(
            github=gh,
            repo=repo,
            claims=Claims(repo),
            mirror=Mirror(tmp_path, REPO, fake.clone_url(REPO)),
            trust=config.policy.trust,
            resolve=PermissionTrust(repo, config.policy.trust),
            bot_login=BOT,
        )
        env = RunEnv(
            store=store,
            config=lambda: config,
            model=AnthropicModel("sk-ant-fake-not-a-real-key", anthropic.base_url),
            sandbox_for=Sandboxes(),
            data_dir=tmp_path,
            holder="factoryd-test",
            github=side,
            retry_delay=lambda automation, attempt: timedelta(seconds=1),
        )
        yield Bench(fake, anthropic, store, config, Runner(env), world)


def read_issue_after_limit(bench: Bench) -> None:
    """Script the model to read the issue, and spend GitHub's limit just before it does."""

    def reply(body: dict[str, Any]) -> FakeReply:
        if len(body["messages"]) > 1:
            return FakeReply([{"type": "text", "text": "done"}])
        bench.github.inject_primary_rate_limit(reset_in=600, status=429)
        tool = {"action": "get_issue", "number": bench.world.bug}
        use = {"type": "tool_use", "id": "toolu_01", "name": "github_read", "input": tool}
        return FakeReply([{"type": "text", "text": "Reading it."}, use])

    bench.anthropic.responder = reply


def test_limit_beyond_the_bound_at_claim_is_not_a_failure(bench: Bench) -> None:
    """A primary limit resetting in 10 min, met when claiming, leaves the run interrupted."""
    bench.github.inject_primary_rate_limit(reset_in=600, status=403)
    assert bench.run_triage().status == "interrupted"


def test_limit_beyond_the_bound_requeues_the_run_for_the_reset(bench: Bench) -> None:
    """The paused run's next attempt is queued to start no earlier than GitHub's reset."""
    bench.github.inject_primary_rate_limit(reset_in=600, status=429)
    before = utcnow()
    retry = bench.next_attempt(bench.run_triage())
    assert retry is not None and retry.not_before is not None
    waited = (retry.not_before - before).total_seconds()
    assert 598 <= waited <= 610


def test_limit_met_mid_session_pauses_the_run(bench: Bench) -> None:
    """A limit beyond the bound hit by a tool in the middle of the session pauses the run."""
    read_issue_after_limit(bench)
    run = bench.run_triage()
    assert (run.status, bench.next_attempt(run) is not None) == ("interrupted", True)


def test_exhausted_retries_on_a_limit_pause_the_run(bench: Bench) -> None:
    """Rate-limited answers that outlast the client's retries pause the run, not fail it."""
    bench.github.inject_rate_limit(20, retry_after=0, status=403)
    run = bench.run_triage()
    assert (run.status, bench.next_attempt(run) is not None) == ("interrupted", True)


def test_paused_run_says_it_waits_for_the_rate_limit(bench: Bench) -> None:
    """The paused run's stop reason names the GitHub rate limit."""
    bench.github.inject_primary_rate_limit(reset_in=600, status=429)
    assert "GitHub rate limit" in (bench.run_triage().stop_reason or "")


def test_rate_limited_error_is_retryable() -> None:
    """GitHubRateLimited is a failure another attempt may not meet."""
    assert is_retryable(GitHubRateLimited("GET /repos/a/b", 600.0, "core")) is True


def test_permission_refusal_is_not_retryable() -> None:
    """A 403 that is no rate limit (a permission verdict) is not retried."""
    refused = GithubException(403, {"message": "Resource not accessible by integration"}, {})
    assert is_retryable(refused) is False


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "{reset}"}),
        (429, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "{reset}"}),
        (403, {"retry-after": "120"}),
    ],
    ids=["primary-403", "primary-429", "secondary"],
)
def test_github_limit_error_resumes_after_its_wait(status: int, headers: dict[str, str]) -> None:
    """A PyGithub rate-limit error resumes about when GitHub said (reset or retry-after)."""
    reset = str(int(utcnow().timestamp()) + 120)
    sent = {k: v.format(reset=reset) for k, v in headers.items()}
    resume = rate_limit_resume(GithubException(status, {"message": "x"}, sent))
    assert resume is not None
    assert 118 <= (resume - utcnow()).total_seconds() <= 122
