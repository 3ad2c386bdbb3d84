"""The Slack side of the sample world: a team workspace, and the scripted intake session.

``seed_slack`` puts the sample's people on a FakeSlack — the maintainer (listed as a
maintainer in the policy the demo and tests write), an outsider, and the #bugs channel the
bot is in. ``ScriptedIntake`` is a FakeAnthropic responder that plays the Slack intake
automation like a model would: it reacts, reads the thread, searches for a duplicate, files
one issue (approved when the reporter is a maintainer), and replies in the thread with the
link it was given; every other automation's session goes to the scripted builder.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from factory.settings import Settings
from factory.testing.fake_anthropic import FakeReply
from factory.testing.fake_slack import FakeSlack
from factory.testing.sample import READY, ScriptedBuilder, tool_reply

SLACK_MAINTAINER = "U0MARA0001"
"""Mara's Slack user id (mara is the sample repository's maintainer)."""
SLACK_OUTSIDER = "U0OTTO0002"
"""Otto's Slack user id (not in the policy: trusted as anyone)."""
BUGS_CHANNEL = "C0BUGS0001"
"""The #bugs channel, listed in the policy."""
INTAKE_TITLE = "add() returns the difference instead of the sum"
INTAKE_BODY = (
    "**Summary**\n`calc.add` subtracts its arguments.\n\n"
    "**Steps to reproduce**\n1. `python3 -c 'import calc; print(calc.add(2, 3))'`\n\n"
    "**Expected**\n`5`\n\n**Observed**\n`-1`\n\n"
    "**Where in the code**\n`calc.py`, `add()` (my reading).\n\n"
    "**Reported in Slack**\n{permalink}"
)


def with_slack_policy(policy_yaml: str) -> str:
    """Return policy.yaml text with its ``slack:`` section replaced by the sample workspace's:
    mara a maintainer, #bugs the listed channel. Raises ValueError without such a section."""
    section = (
        "slack:\n"
        f"  maintainers: [{SLACK_MAINTAINER}]\n"
        "  collaborators: []\n"
        f"  channels: [{BUGS_CHANNEL}]\n"
    )
    found = re.search(r"^slack:\n(?:[ ].*\n)*", policy_yaml, re.MULTILINE)
    if found is None:
        raise ValueError("policy.yaml has no 'slack:' section to replace")
    return policy_yaml[: found.start()] + section + policy_yaml[found.end() :]


def with_fake_slack(settings: Settings, slack: FakeSlack, *, socket_mode: bool = True) -> Settings:
    """Return ``settings`` pointed at ``slack``: bot token, signing secret (HTTP mode at
    ``/slack/events``), and the app token too when ``socket_mode``."""
    update: dict[str, Any] = {
        "slack_bot_token": SecretStr(slack.bot_token),
        "slack_signing_secret": SecretStr(slack.signing_secret),
        "slack_api_url": slack.api_url,
        "slack_app_token": SecretStr(slack.app_token) if socket_mode else None,
    }
    return settings.model_copy(update=update)


@dataclass(frozen=True)
class SlackWorld:
    """Ids of the seeded Slack workspace."""

    maintainer: str = SLACK_MAINTAINER
    outsider: str = SLACK_OUTSIDER
    channel: str = BUGS_CHANNEL


def seed_slack(slack: FakeSlack) -> SlackWorld:
    """Add the sample's people and the #bugs channel to a FakeSlack; return their ids."""
    slack.add_user(SLACK_MAINTAINER, "mara", display_name="Mara")
    slack.add_user(SLACK_OUTSIDER, "otto", display_name="Otto")
    slack.add_channel(BUGS_CHANNEL, "bugs")
    return SlackWorld()


def _results(body: dict[str, Any]) -> list[str]:
    """Return the text of every tool result in the conversation, oldest first."""
    found: list[str] = []
    for message in body["messages"]:
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                found.append(inner if isinstance(inner, str) else json.dumps(inner))
    return found


def _first_text(body: dict[str, Any]) -> str:
    first = body["messages"][0]["content"]
    if isinstance(first, str):
        return first
    return "\n".join(str(b.get("text", "")) for b in first if isinstance(b, dict))


class ScriptedIntake:
    """A deterministic Slack intake session (a FakeAnthropic responder); others go to the
    scripted builder."""

    def __init__(self, probe: str | None = None) -> None:
        """``probe``: a shell command the session runs first, the way a curious (or
        compromised) model would look around the sandbox; tests read what it saw."""
        self.builder = ScriptedBuilder()
        self.probe = probe

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        """Return the next reply for the conversation in ``body``."""
        if "Slack intake" not in json.dumps(body.get("system", "")):
            return self.builder(body)
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        results = _results(body)
        maintainer = 'trust="maintainers"' in _first_text(body)
        label = READY if maintainer else "factory:triage"
        permalink = next(
            (m.group(0) for r in results for m in [re.search(r"https?://\S+/p\d+\S*", r)] if m),
            "(no permalink)",
        )
        issue_url = next(
            (m.group(0) for r in results for m in [re.search(r"https?://\S+/issues/\d+", r)] if m),
            None,
        )
        steps: list[tuple[str, dict[str, Any], str]] = [
            ("output_slack_react", {"name": "eyes"}, "Letting the reporter know I saw it."),
            ("slack_read", {}, "Reading the whole thread first."),
            (
                "github_read",
                {"action": "search_issues", "query": "add difference"},
                "Checking for a duplicate.",
            ),
            (
                "output_create_issue",
                {
                    "title": INTAKE_TITLE,
                    "body": INTAKE_BODY.format(permalink=permalink),
                    "labels": ["bug", label],
                },
                "No duplicate; filing it.",
            ),
        ]
        if self.probe is not None:
            steps.insert(0, ("bash", {"command": self.probe}, "Looking around first."))
        if turn < len(steps):
            return tool_reply(turn, *steps[turn])
        if turn == len(steps):
            reply = f"Filed {issue_url}: {INTAKE_TITLE}. " + (
                "The factory is on it; I'll post here when a pull request opens."
                if maintainer
                else "A maintainer will triage it."
            )
            return tool_reply(turn, "output_slack_reply", {"text": reply}, "Telling the thread.")
        return FakeReply([{"type": "text", "text": "Filed the issue and told the thread."}])
