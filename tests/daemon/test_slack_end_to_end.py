"""Tag the bot in Slack, follow the bug to the merge in that thread: the whole daemon, both modes.

Socket Mode through FakeSlack's WebSocket, and signed HTTP to ``/slack/events``. One story per
mode, run once (module scope) and read by the tests below: the maintainer's mention delivered
three times (retries / a re-sent envelope), the intake files one approved issue and answers in
the thread, the bug fixer opens a pull request, the maintainer tags the bot again in the thread
(an issue comment, not a second issue), merges, and the thread is told once per transition. An
outsider's mention in another thread files a triage issue only. The intake session first runs
a probe in the sandbox that prints its environment, the way a curious model would.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from github import Auth, Github

from factory.daemon.process import Daemon
from factory.logs import configure_logging
from factory.store import RunRecord, RunStore
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_slack import FakeSlack
from factory.testing.relay import WebhookRelay
from factory.testing.sample import (
    MAINTAINER_TOKEN,
    READY,
    REPO,
    seed_repo,
    with_test_command,
)
from factory.testing.sample_slack import (
    ScriptedIntake,
    seed_slack,
    with_fake_slack,
    with_slack_policy,
)
from tests.daemon.conftest import ROOT, SECRET, daemon_settings, wait_for

PROBE = "env; cat /proc/self/environ | tr '\\0' '\\n'; ls /run /tmp 2>&1 | head -20"
REPORT = "add() returns the difference: calc.add(2, 3) gives -1, it should be 5"


@dataclass
class Story:
    """What one mode's run of the whole story left behind."""

    mode: str
    slack: FakeSlack
    github: FakeGitHub
    anthropic: FakeAnthropic
    db: Path
    logs: str
    channel: str
    thread_ts: str
    outsider_ts: str
    runs: list[RunRecord] = field(default_factory=list)
    viewer: list[str] = field(default_factory=list)

    def bot_messages(self, thread_ts: str) -> list[str]:
        """The bot's messages in a thread, oldest first."""
        return [
            str(m.get("text", ""))
            for m in self.slack.thread(self.channel, thread_ts)
            if m.get("bot_id")
        ]

    def issues_by_bot(self) -> list[int]:
        """Numbers of the issues (not PRs) the factory opened."""
        return [
            n
            for n, issue in self.github.repo(REPO).issues.items()
            if issue.user == "factory-bot" and not issue.is_pr
        ]


def _deliver(mode: str, slack: FakeSlack, url: str, body: dict[str, Any]) -> None:
    """Deliver ``body`` three times: Slack's HTTP retries, or a re-sent Socket Mode envelope."""
    if mode == "http":
        for retry in range(3):
            assert slack.deliver_http(url, body, retry_num=retry).status_code == 200
        return
    envelope = slack.deliver_socket(body)
    assert slack.wait_acked(envelope)
    slack.resend(envelope)
    slack.resend(envelope)


def _bot_said(story_slack: FakeSlack, channel: str, ts: str, words: str) -> bool:
    return any(
        words in str(m.get("text", "")) for m in story_slack.thread(channel, ts) if m.get("bot_id")
    )


@pytest.fixture(scope="module", params=["socket", "http"])
def story(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Story]:
    """The whole story, once per mode."""
    mode = str(request.param)
    tmp = tmp_path_factory.mktemp(f"slack-{mode}")
    automations = Path(shutil.copytree(ROOT / "automations", tmp / "automations"))
    harness = Path(shutil.copytree(ROOT / "harness", tmp / "harness"))
    policy = harness / "policy.yaml"
    policy.write_text(with_test_command(with_slack_policy(policy.read_text())))
    with (
        FakeGitHub(tmp / "github") as github,
        FakeAnthropic() as anthropic,
        FakeSlack() as slack,
    ):
        anthropic.responder = ScriptedIntake(probe=PROBE)
        seed_repo(github)
        people = seed_slack(slack)
        settings = daemon_settings(
            github,
            anthropic,
            tmp,
            automations=automations,
            harness=harness,
        )
        settings = with_fake_slack(settings, slack, socket_mode=mode == "socket")
        logs = io.StringIO()
        configure_logging(settings.model_copy(update={"log_format": "json"}), stream=logs)
        daemon = Daemon(settings)
        daemon.start()
        assert daemon.http is not None
        base = f"http://127.0.0.1:{daemon.http.port}"
        relay = WebhookRelay(github, f"{base}/webhooks/github", SECRET).start()
        loop = threading.Thread(target=daemon.run_loop, name="daemon-loop", daemon=True)
        loop.start()
        events_url = f"{base}/slack/events"
        try:
            if mode == "socket":
                assert slack.wait_connected(timeout=30)
            report = slack.mention(people.maintainer, people.channel, REPORT)
            ts = str(report["event"]["ts"])
            _deliver(mode, slack, events_url, report)
            wait_for(
                lambda: _bot_said(slack, people.channel, ts, "A pull request for"),
                timeout_s=120,
                what="the thread to be told of the pull request",
            )
            again = slack.mention(
                people.maintainer, people.channel, "mul() is fine, only add()", thread_ts=ts
            )
            _deliver(mode, slack, events_url, again)
            [issue] = [n for n, i in github.repo(REPO).issues.items() if not i.is_pr]
            wait_for(
                lambda: github.issue(REPO, issue).comments, what="the thread reply as a comment"
            )
            [pull] = github.repo(REPO).pulls.values()
            maintainer = Github(
                base_url=github.api_url,
                auth=Auth.Token(MAINTAINER_TOKEN),
                seconds_between_requests=None,
                seconds_between_writes=None,
            )
            maintainer.get_repo(REPO).get_pull(pull.number).merge()
            wait_for(
                lambda: _bot_said(slack, people.channel, ts, "was closed"),
                what="the thread to be told of the merge and the close",
            )
            outsider = slack.mention(people.outsider, people.channel, "the logo is blurry")
            _deliver(mode, slack, events_url, outsider)
            outsider_ts = str(outsider["event"]["ts"])
            wait_for(
                lambda: _bot_said(slack, people.channel, outsider_ts, "Filed"),
                what="the outsider's reply",
            )
            wait_for(
                lambda: all(r.finished for r in daemon.store.list_runs(limit=100)),
                what="every run to finish",
            )
            viewer = []
            for run in daemon.store.list_runs(limit=100):
                for path in (f"/runs/{run.id}", f"/runs/{run.id}.json", "/runs", "/search?q=xoxb"):
                    viewer.append(httpx.get(base + path, timeout=10).text)
        finally:
            daemon.stopping.set()
            daemon.wake.set()
            loop.join(timeout=30)
            relay.stop()
        with RunStore.open(settings.db_path, readonly=True) as store:
            runs = store.list_runs(limit=100)
        yield Story(
            mode,
            slack,
            github,
            anthropic,
            settings.db_path,
            logs.getvalue(),
            people.channel,
            ts,
            outsider_ts,
            runs,
            viewer,
        )


def _runs(story: Story, automation: str) -> list[RunRecord]:
    return [r for r in story.runs if r.automation == automation]


def test_the_mention_delivered_three_times_makes_one_event_and_one_run(story: Story) -> None:
    """Retries and re-sent envelopes of one event_id are one stored event and one intake run."""
    with sqlite3.connect(story.db) as db:
        mentions = db.execute(
            "SELECT count(*) FROM events WHERE source = 'slack' AND subject_key = ?",
            (f"slack:{story.channel}/{story.thread_ts}",),
        ).fetchone()[0]
    first = [r for r in _runs(story, "slack-intake") if story.thread_ts in (r.subject_key or "")]
    # Two mentions in the maintainer's thread: the report, and the later reply (a comment).
    assert (mentions, [r.status for r in first]) == (2, ["succeeded"])


def test_one_approved_issue_is_filed_with_the_thread_link(story: Story) -> None:
    """The maintainer's report is one issue, filed ready (the bug fixer took the label off
    when it asked for the pull request), whose body links the thread."""
    [first, _outsider] = sorted(story.issues_by_bot())
    issue = story.github.issue(REPO, first)
    link = f"/archives/{story.channel}/p{story.thread_ts.replace('.', '')}"
    labelled = [
        (e.event, e.actor)
        for e in story.github.repo(REPO).events
        if e.issue_number == first and e.label is not None and e.label.name == READY
    ]
    assert (link in (issue.body or ""), labelled) == (
        True,
        [("labeled", "factory-bot"), ("unlabeled", "factory-bot")],
    )


def test_the_thread_gets_one_reply_with_the_issue_link(story: Story) -> None:
    """The intake answers once in the thread, with the issue's address."""
    first = min(story.issues_by_bot())
    filed = [t for t in story.bot_messages(story.thread_ts) if t.startswith("Filed")]
    assert (len(filed), f"/issues/{first}" in filed[0]) == (1, True)


def test_the_bug_fixer_opens_one_pull_request_that_closes_the_issue(story: Story) -> None:
    """The approved bug is fixed by the bug fixer (the builder leaves bugs alone): one
    succeeded bug-fixer run, no builder run, and one PR closing the issue."""
    first = min(story.issues_by_bot())
    [pull] = story.github.repo(REPO).pulls.values()
    body = story.github.issue(REPO, pull.number).body or ""
    assert (
        [r.status for r in _runs(story, "bug-fixer")],
        _runs(story, "builder"),
        f"Closes #{first}" in body,
        pull.merged,
    ) == (["succeeded"], [], True, True)


def test_the_thread_is_told_once_per_transition(story: Story) -> None:
    """Pull request opened, merged, issue closed: one update each, in that order."""
    updates = [
        t.split(":")[0].split(" ")[0] + (" closed" if "was closed" in t else "")
        for t in story.bot_messages(story.thread_ts)
        if not t.startswith("Filed")
    ]
    assert updates == ["A", "Merged", f"#{min(story.issues_by_bot())} closed"]


def test_a_second_mention_in_the_thread_becomes_a_comment_on_the_issue(story: Story) -> None:
    """Tagging the bot again while the issue is open comments on it, with author and trust."""
    comments = story.github.issue(REPO, min(story.issues_by_bot())).comments
    relayed = [c.body for c in comments if "mul() is fine, only add()" in c.body]
    assert (
        len(relayed),
        "maintainers" in relayed[0],
        "Mara" in relayed[0],
        len(_runs(story, "slack-intake")),  # the report's and the outsider's, no third
    ) == (1, True, True, 2)


def test_an_outsiders_mention_files_a_triage_issue_and_starts_no_build(story: Story) -> None:
    """A user the policy does not list gets at most a triage issue, never the ready label."""
    outsider = max(story.issues_by_bot())
    labels = story.github.labels_of(REPO, outsider)
    builds = [
        r
        for name in ("builder", "bug-fixer")
        for r in _runs(story, name)
        if r.subject_key == f"issue:{outsider}"
    ]
    assert ("factory:triage" in labels, READY in labels, builds) == (True, False, [])


def test_slack_secrets_never_reach_the_prompt_sandbox_store_logs_or_viewer(story: Story) -> None:
    """The bot token, app token and signing secret are in none of the places the run wrote."""
    secrets = [story.slack.bot_token, story.slack.app_token, story.slack.signing_secret]
    prompts = json.dumps(story.anthropic.requests)
    files = b"".join(
        p.read_bytes() for p in story.db.parent.glob("factory.db*") if p.is_file()
    ).decode("utf-8", errors="replace")
    probed = "PATH=" in prompts  # the probe's output reached the model: the check can fail
    places = {
        "prompts": prompts,
        "store": files,
        "logs": story.logs,
        "viewer": "".join(story.viewer),
    }
    leaks = sorted(name for name, text in places.items() for s in secrets if s in text)
    assert (probed, len(story.logs) > 1000, leaks) == (True, True, [])
