"""A staged Slack intake in the whole daemon: a mention makes a run that writes nothing to
Slack or GitHub, and the viewer lists the issue and reply it would have made."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from factory.daemon.process import Daemon
from factory.store import RunRecord
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_slack import FakeSlack
from factory.testing.sample import seed_repo
from factory.testing.sample_slack import (
    ScriptedIntake,
    seed_slack,
    with_fake_slack,
    with_slack_policy,
)
from tests.daemon.conftest import ROOT, daemon_settings, wait_for

REPORT = "add() returns the difference: calc.add(2, 3) gives -1, it should be 5"
SLACK_WRITES = ("chat.postMessage", "chat.update", "chat.delete", "reactions.add")
GITHUB_WRITES = ("POST", "PATCH", "PUT", "DELETE")


@dataclass
class Story:
    """What the daemon did with one maintainer's mention, staged."""

    slack_calls: list[tuple[str, dict[str, Any]]]
    github_writes: list[tuple[str, str, int]]
    run: RunRecord
    run_json: dict[str, Any]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """The shipped Slack intake with ``staged: true`` got one maintainer's mention."""
    tmp = tmp_path_factory.mktemp("staged-slack")
    automations = shutil.copytree(ROOT / "automations", tmp / "automations")
    harness = shutil.copytree(ROOT / "harness", tmp / "harness")
    intake = automations / "slack-intake.yaml"
    intake.write_text(intake.read_text() + "staged: true\n")
    policy = harness / "policy.yaml"
    policy.write_text(with_slack_policy(policy.read_text()))
    with (
        FakeGitHub(tmp / "github") as github,
        FakeAnthropic() as anthropic,
        FakeSlack() as slack,
    ):
        anthropic.responder = ScriptedIntake()
        seed_repo(github)
        people = seed_slack(slack)
        settings = daemon_settings(
            github,
            anthropic,
            tmp,
            automations=automations,
            harness=harness,
        )
        daemon = Daemon(with_fake_slack(settings, slack, socket_mode=False))
        daemon.start()
        assert daemon.http is not None
        base = f"http://127.0.0.1:{daemon.http.port}"
        loop = threading.Thread(target=daemon.run_loop, name="daemon-loop", daemon=True)
        loop.start()
        try:
            calls_before = len(slack.calls)
            writes_before = [e for e in list(github.request_log) if e[0] in GITHUB_WRITES]
            report = slack.mention(people.maintainer, people.channel, REPORT)
            assert slack.deliver_http(f"{base}/slack/events", report).status_code == 200
            run = wait_for(
                lambda: next(
                    (r for r in daemon.store.list_runs(automation="slack-intake") if r.finished),
                    None,
                ),
                timeout_s=120,
                what="the staged intake run to finish",
            )
            run_json = httpx.get(f"{base}/runs/{run.id}.json", timeout=10).json()
        finally:
            daemon.stopping.set()
            daemon.wake.set()
            loop.join(timeout=30)
        writes_after = [e for e in list(github.request_log) if e[0] in GITHUB_WRITES]
        yield Story(
            slack.calls[calls_before:],
            writes_after[len(writes_before) :],
            run,
            run_json,
        )


def test_staged_intake_run_succeeds(story: Story) -> None:
    """The staged intake run goes to the end."""
    assert story.run.status == "succeeded"


def test_staged_intake_makes_no_slack_write(story: Story) -> None:
    """No Slack method that posts, edits or reacts is called after the mention."""
    assert [m for m, _ in story.slack_calls if m in SLACK_WRITES] == []


def test_staged_intake_makes_no_github_write(story: Story) -> None:
    """FakeGitHub answers no write request after the mention: no issue is filed."""
    assert story.github_writes == []


def test_viewer_lists_the_issue_reaction_and_reply_it_would_have_made(story: Story) -> None:
    """The run's JSON lists the would-be issue, Slack reaction and Slack reply."""
    kinds = sorted({w["kind"] for w in story.run_json["would_have"]})
    assert kinds == ["create_issue", "slack_react", "slack_reply"]
