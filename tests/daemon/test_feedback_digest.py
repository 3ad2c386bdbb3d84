"""The feedback digest, enabled with a channel, in the daemon process: it reads the feedback
channel and the issues labelled feedback, files one needs-human issue per new pattern reported
by at least three people (none for a known pattern, none below the threshold), and posts one
digest with counts and links to the channel — once, although the daemon is killed (-9) right
after Slack answered chat.postMessage and restarted.

The model is a scripted digest that decides from what its tools return (distinct authors per
pattern, the known patterns' titles), so a tool that hid a report or a known issue would
change what it files. The story runs once (module scope); the tests read what it left.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from factory.commands.manual import run_manual
from factory.store import RunStore
from factory.testing.fake_anthropic import FakeAnthropic, FakeReply
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_slack import FakeSlack
from factory.testing.processes import DaemonProcess, fired_points
from factory.testing.sample import (
    BOT,
    MAINTAINER,
    OUTSIDER,
    REPO,
    seed_repo,
    tool_reply,
)
from factory.testing.sample_slack import seed_slack, with_fake_slack, with_slack_policy
from tests.daemon.conftest import ROOT, daemon_env, daemon_settings, wait_for

CHANNEL = "C0FEEDBK01"
CRASH_AT = "output_after_github:slack_post"
PATTERNS = {
    "export": "Export to CSV is slow",
    "login": "Login redirect loop",
    "dark mode": "Dark mode",
}
"""Keyword → pattern name, as the scripted digest groups reports."""
THRESHOLD = 3
PEOPLE = [("U0PAT00001", "pia"), ("U0PAT00002", "raj"), ("U0PAT00003", "sol")]


def _results(body: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for message in body["messages"]:
        content = message["content"]
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                out.append(inner if isinstance(inner, str) else json.dumps(inner))
    return out


def _tool(turn: int, name: str, tool_input: dict[str, Any]) -> FakeReply:
    return tool_reply(turn, name, tool_input, f"Step {turn}.")


_MESSAGE = re.compile(
    r"message \S+ \((?P<link>\S+); \d+ replies\):\n<<< slack message by (?P<who>.+?) "
    r"\(association: \S+\) >>>\n(?P<text>.*?)\n<<< end",
    re.DOTALL,
)
_ISSUE = re.compile(r"#(?P<n>\d+) \[issue, \w+\] (?P<title>.+) \(by (?P<who>[^;]+);")


def plan(channel: str, feedback: str, known: str) -> tuple[list[dict[str, Any]], str]:
    """Return the issues to file and the digest text, from the three reads' results."""
    reports: dict[str, list[tuple[str, str]]] = {name: [] for name in PATTERNS.values()}
    found = [(m["who"], m["text"], m["link"]) for m in _MESSAGE.finditer(channel)]
    found += [
        (m["who"], m["title"], f"https://github.com/{REPO}/issues/{m['n']}")
        for m in _ISSUE.finditer(feedback)
    ]
    for who, text, link in found:
        if who == "this factory":
            continue
        for word, name in PATTERNS.items():
            if word in text.lower():
                reports[name].append((who, link))
    issues, lines = [], []
    for name, hits in sorted(reports.items(), key=lambda kv: -len({w for w, _ in kv[1]})):
        people = len({w for w, _ in hits})
        if not hits:
            continue
        known_here = name in known
        links = " ".join(link for _, link in hits)
        lines.append(f"{name}: {people} people {links}" + (" (known)" if known_here else ""))
        if not known_here and people >= THRESHOLD:
            body = f"**Pattern** {name}.\n\n**Reports** {people} people: {links}"
            issues.append({"title": name, "body": body})
    return issues, "Feedback digest, last 7 days:\n" + "\n".join(lines)


class ScriptedDigest:
    """Plays the feedback digest: the channel, the feedback issues, the known patterns, then
    one issue per new pattern at or above the threshold, then the digest."""

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        reads: list[tuple[str, dict[str, Any]]] = [
            ("slack_channel", {"days": 7}),
            ("github_read", {"action": "search_issues", "query": "is:issue label:feedback"}),
            (
                "github_read",
                {"action": "search_issues", "query": "is:issue label:feedback-pattern"},
            ),
        ]
        if turn < len(reads):
            return _tool(turn, *reads[turn])
        results = _results(body)
        issues, digest = plan(*results[:3])
        writes = [("output_create_issue", issue) for issue in issues]
        writes.append(("output_slack_post", {"text": digest}))
        if turn - len(reads) < len(writes):
            return _tool(turn, *writes[turn - len(reads)])
        return FakeReply([{"type": "text", "text": "Digest posted."}])


@dataclass
class Story:
    github: FakeGitHub
    slack: FakeSlack
    fired: list[str]
    digests_before_restart: int
    status: str


def _enabled(text: str) -> str:
    out = text.replace("enabled: false\n", "enabled: true\n", 1)
    return out.replace("# slack_channel: C0123ABCD", f"slack_channel: {CHANNEL}", 1)


def _digests(slack: FakeSlack) -> list[Any]:
    return [m["text"] for m in slack.channel_messages(CHANNEL) if m.get("bot_id")]


def _finished(db: Path) -> str | None:
    with RunStore.open(db, readonly=True) as store:
        runs = store.list_runs(automation="feedback-digest", limit=10)
    done = [r.status for r in runs if r.finished]
    return "succeeded" if "succeeded" in done else None


def _seed(github: FakeGitHub, slack: FakeSlack) -> None:
    seed_repo(github)
    people = seed_slack(slack)
    for user_id, name in PEOPLE:
        slack.add_user(user_id, name, display_name=name.title())
    slack.add_channel(CHANNEL, "feedback")
    pia, raj, sol = (u for u, _ in PEOPLE)
    slack.say(pia, CHANNEL, "The export to CSV takes minutes")
    slack.say(pia, CHANNEL, "export still slow today")  # the same person: counts once
    slack.say(raj, CHANNEL, "Export is so slow it times out")
    slack.say(pia, CHANNEL, "I keep landing on the login page again, a loop")
    slack.say(raj, CHANNEL, "login loops for me too")
    slack.say(sol, CHANNEL, "login redirect loop on Safari")
    slack.say(people.outsider, CHANNEL, "please add dark mode")
    # A third person reports the export problem as an issue labelled feedback.
    github.create_issue(REPO, "CSV export is very slow", as_user=OUTSIDER, labels=["feedback"])
    # The login loop was filed by an earlier digest: a known pattern.
    github.create_issue(
        REPO,
        "Feedback: Login redirect loop",
        "**Pattern** Login redirect loop.",
        as_user=MAINTAINER,
        labels=["needs-human", "feedback-pattern"],
    )


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    tmp = tmp_path_factory.mktemp("digest")
    automations = tmp / "automations"
    automations.mkdir()
    shipped = (ROOT / "automations" / "feedback-digest.yaml").read_text()
    (automations / "feedback-digest.yaml").write_text(_enabled(shipped))
    harness = Path(shutil.copytree(ROOT / "harness", tmp / "harness"))
    policy = harness / "policy.yaml"
    policy.write_text(with_slack_policy(policy.read_text()))
    crash_log = tmp / "crashes.log"
    with (
        FakeGitHub(tmp / "github") as github,
        FakeAnthropic() as anthropic,
        FakeSlack() as slack,
    ):
        anthropic.responder = ScriptedDigest()
        _seed(github, slack)
        settings = with_fake_slack(
            daemon_settings(
                github,
                anthropic,
                tmp,
                automations=automations,
                harness=harness,
                poll_interval_s=0.5,
            ),
            slack,
            socket_mode=False,
        )
        env = daemon_env(settings)
        first = DaemonProcess(env, ROOT, crash_at=CRASH_AT, crash_log=crash_log)
        try:
            first.wait_started()
            run_manual(settings, "feedback-digest")
            wait_for(lambda: first.proc.poll() is not None, what="the armed crash to fire")
        finally:
            first.kill()
        before = len(_digests(slack))
        second = DaemonProcess(env, ROOT)
        try:
            second.wait_started()
            status = wait_for(
                lambda: _finished(settings.db_path),
                timeout_s=90,
                what="the restarted daemon to finish the digest run",
            )
        finally:
            second.stop()
        yield Story(github, slack, fired_points(crash_log), before, status)


def _filed(story: Story) -> list[tuple[str, list[str]]]:
    issues = story.github.repo(REPO).issues.values()
    return [
        (i.title, sorted(i.labels))
        for i in issues
        if not i.is_pr and i.user == BOT  # the bot's own filings
    ]


def test_digest_run_succeeds_after_the_restart(story: Story) -> None:
    """The kill fired where armed and the retried run ends succeeded."""
    assert (story.fired, story.status) == ([CRASH_AT], "succeeded")


def test_digest_is_posted_once_across_the_kill(story: Story) -> None:
    """One digest message in the channel, before and after the restart."""
    assert (story.digests_before_restart, len(_digests(story.slack))) == (1, 1)


def test_one_issue_for_the_new_pattern_only(story: Story) -> None:
    """Only the new pattern at the threshold is filed, labelled needs-human: not the known
    login loop, not dark mode (one person)."""
    assert _filed(story) == [
        ("Feedback: Export to CSV is slow", ["feedback-pattern", "needs-human"])
    ]


def test_digest_counts_distinct_people_with_links(story: Story) -> None:
    """The digest counts the export pattern's three people (one twice) and links the
    issue-filed report."""
    [digest] = _digests(story.slack)
    line = next(x for x in digest.splitlines() if x.startswith("Export to CSV is slow"))
    assert (line.split(" people")[0], f"{REPO}/issues/1" in line) == (
        "Export to CSV is slow: 3",
        True,
    )


def test_digest_marks_the_known_pattern(story: Story) -> None:
    """The login loop, already filed, is listed as known."""
    [digest] = _digests(story.slack)
    assert "Login redirect loop: 3 people" in digest and "(known)" in digest
