"""Shared setup of the Slack forge tests: FakeSlack, a bot WebClient, threads to write to."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from slack_sdk import WebClient

from factory.slack.client import web_client
from factory.slack.messages import SlackThread
from factory.testing.fake_slack import FakeSlack

REPORTER = "U0ALICE01"
"""The person who mentions the bot in the tests."""
_channels = itertools.count(1)


def bot_client(slack: FakeSlack) -> WebClient:
    """Return the bot's WebClient against ``slack`` (the factory's own client factory)."""
    return web_client(slack.bot_token, slack.api_url)


def setup_workspace(slack: FakeSlack) -> None:
    """Add the reporter (alice) and a second person (bob)."""
    slack.add_user(REPORTER, "alice", display_name="Alice")
    slack.add_user("U0BOB0001", "bob", display_name="Bob")


@dataclass(frozen=True)
class Mentioned:
    """A fresh channel with one top-level mention of the bot: the thread it starts."""

    thread: SlackThread
    ts: str
    """The mention's own ts (the thread's parent)."""


def new_mention(slack: FakeSlack, text: str = "the export button 500s", **kw: object) -> Mentioned:
    """Make a channel, mention the bot there as alice; return the thread it starts."""
    channel = f"CT{next(_channels):06d}"
    slack.add_channel(channel, f"bugs-{channel.lower()}")
    body = slack.mention(REPORTER, channel, text, **kw)  # type: ignore[arg-type]
    ts = str(body["event"]["ts"])
    return Mentioned(SlackThread(channel, ts), ts)


def bot_replies(slack: FakeSlack, thread: SlackThread) -> list[dict[str, object]]:
    """Return the bot's messages in ``thread``, oldest first."""
    return [m for m in slack.thread(thread.channel, thread.ts) if m.get("bot_id") == slack.bot_id]
