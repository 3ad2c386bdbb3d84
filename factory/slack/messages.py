"""Writing to a Slack thread idempotently, and finding what was written, over the Web API.

A message the factory posts carries its idempotency key in Slack message ``metadata``
(``event_type`` ``METADATA_EVENT``, ``event_payload`` ``{"key": KEY}``): metadata is not
shown to people and cannot be set from a person's client, and ``conversations.replies`` with
``include_all_metadata`` returns it. So after a crash between ``chat.postMessage`` and the
local commit, ``find_message`` finds the message by its key and nothing is posted twice.

Text given to ``post_message`` must already be sanitized and escaped
(``factory.forge.slack_outputs``); this module only talks to Slack. Reactions are idempotent
on Slack's side: ``already_reacted`` means the reaction is there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

METADATA_EVENT = "factoryd_output"
"""``metadata.event_type`` of every message the factory posts."""

REPLY_PAGE = 200
"""Messages asked for per ``conversations.replies`` page."""
MAX_PAGES = 10
"""Pages read at most when looking through a thread (2000 messages)."""

_THREAD = re.compile(r"(?P<channel>[CDG][A-Z0-9]{2,})/(?P<ts>[0-9]{6,}\.[0-9]{6})")


@dataclass(frozen=True)
class SlackThread:
    """A Slack thread: its channel and its parent message's ts."""

    channel: str
    ts: str

    @classmethod
    def parse(cls, thread: str) -> SlackThread:
        """Return the thread named ``CHANNEL/TS`` (a slack subject's ``thread``).

        Raises ValueError for anything else.
        """
        match = _THREAD.fullmatch(thread)
        if match is None:
            raise ValueError(f"{thread!r} is not a Slack thread 'CHANNEL/THREAD_TS'")
        return cls(match["channel"], match["ts"])

    def __str__(self) -> str:
        return f"{self.channel}/{self.ts}"


@dataclass(frozen=True)
class SlackSide:
    """What a run needs to write to Slack: the bot's client and the run's thread, if any."""

    client: WebClient
    """A WebClient with the bot token (``factory.slack.client.web_client``)."""
    thread: SlackThread | None = None
    """The thread the run's work came from (its subject, or the thread linked to its issue)."""
    trigger_ts: str | None = None
    """The message that started the run (what ``slack_react`` reacts to by default)."""
    from_subject: bool = False
    """True when the run's subject is the thread itself (the intake): issues it creates are
    linked to the thread."""
    bot_id: str | None = None
    """The bot's id (auth.test ``bot_id``): only its messages count when finding a key."""
    channel: str | None = None
    """The automation's ``slack_channel``: what ``slack_channel`` reads and ``slack_post``
    posts to (None: the automation names none)."""


@dataclass(frozen=True)
class PostedMessage:
    """A message in a thread: its ts and, when Slack gave one, its permalink."""

    ts: str
    url: str | None = None


def slack_error(exc: SlackApiError) -> str:
    """Return Slack's error code of a failed call (``not_in_channel``, ``ratelimited``, …)."""
    data = exc.response.data if exc.response is not None else None
    error = data.get("error") if isinstance(data, Mapping) else None
    return str(error or "unknown_error")


def permalink(client: WebClient, channel: str, ts: str) -> str | None:
    """Return the message's permalink, or None if Slack will not give one."""
    try:
        answer = client.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError:
        return None
    link = answer.get("permalink")
    return link if isinstance(link, str) else None


def post_message(client: WebClient, thread: SlackThread, text: str, key: str) -> PostedMessage:
    """Post ``text`` (sanitized, escaped) in ``thread`` with ``key`` in its metadata.

    Slack's own markup is off (``parse=none``, no ``link_names``), so only what the text
    spells with ``<…>`` is a link or mention — and sanitized text has no ``<``. Returns the
    posted message; raises SlackApiError when Slack refuses.
    """
    answer = client.chat_postMessage(
        channel=thread.channel,
        thread_ts=thread.ts,
        text=text,
        parse="none",
        link_names=False,
        unfurl_links=False,
        unfurl_media=False,
        metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}},
    )
    ts = str(answer.get("ts") or "")
    return PostedMessage(ts, permalink(client, thread.channel, ts))


def post_channel_message(client: WebClient, channel: str, text: str, key: str) -> PostedMessage:
    """Post ``text`` (sanitized, escaped) as a top-level message of ``channel`` with ``key``
    in its metadata, Slack's markup off as in ``post_message``; raises SlackApiError."""
    answer = client.chat_postMessage(
        channel=channel,
        text=text,
        parse="none",
        link_names=False,
        unfurl_links=False,
        unfurl_media=False,
        metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}},
    )
    ts = str(answer.get("ts") or "")
    return PostedMessage(ts, permalink(client, channel, ts))


def channel_messages(
    client: WebClient,
    channel: str,
    *,
    oldest: str | None = None,
    metadata: bool = False,
    max_pages: int = MAX_PAGES,
) -> Iterator[dict[str, Any]]:
    """Yield the channel's top-level messages since ``oldest`` (a ts), newest first, page by
    page over ``conversations.history`` (at most ``max_pages``).

    Raises SlackApiError when Slack refuses (``channel_not_found``, ``not_in_channel``, …).
    """
    cursor: str | None = None
    for _ in range(max_pages):
        answer = client.conversations_history(
            channel=channel,
            oldest=oldest,
            limit=REPLY_PAGE,
            cursor=cursor,
            include_all_metadata=metadata,
        )
        for message in answer.get("messages") or []:
            if isinstance(message, dict):
                yield message
        meta = answer.get("response_metadata") or {}
        cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
        if not cursor or not answer.get("has_more", True):
            return


def find_channel_message(
    client: WebClient, channel: str, key: str, *, oldest: str, bot_id: str | None = None
) -> PostedMessage | None:
    """Return the channel's top-level message since ``oldest`` carrying ``key`` (posted by
    ``bot_id`` if given), or None. Never writes; raises SlackApiError when it cannot read."""
    for message in channel_messages(client, channel, oldest=oldest, metadata=True):
        if message_key(message) != key:
            continue
        if bot_id is not None and message.get("bot_id") != bot_id:
            continue
        ts = str(message.get("ts") or "")
        return PostedMessage(ts, permalink(client, channel, ts))
    return None


def thread_messages(
    client: WebClient, thread: SlackThread, *, metadata: bool = False, max_pages: int = MAX_PAGES
) -> Iterator[dict[str, Any]]:
    """Yield the thread's messages, parent first, page by page (at most ``max_pages``).

    Raises SlackApiError when Slack refuses (``thread_not_found``, ``not_in_channel``, …).
    """
    cursor: str | None = None
    for _ in range(max_pages):
        answer = client.conversations_replies(
            channel=thread.channel,
            ts=thread.ts,
            limit=REPLY_PAGE,
            cursor=cursor,
            include_all_metadata=metadata,
        )
        for message in answer.get("messages") or []:
            if isinstance(message, dict):
                yield message
        meta = answer.get("response_metadata") or {}
        cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
        if not cursor or not answer.get("has_more", True):
            return


def message_key(message: Mapping[str, Any]) -> str | None:
    """Return the factory's idempotency key in a message's metadata, or None."""
    meta = message.get("metadata")
    if not isinstance(meta, Mapping) or meta.get("event_type") != METADATA_EVENT:
        return None
    payload = meta.get("event_payload")
    key = payload.get("key") if isinstance(payload, Mapping) else None
    return key if isinstance(key, str) else None


def find_message(
    client: WebClient, thread: SlackThread, key: str, *, bot_id: str | None = None
) -> PostedMessage | None:
    """Return the thread's message carrying ``key`` (posted by ``bot_id`` if given), or None.

    Never writes. Raises SlackApiError when the thread cannot be read.
    """
    for message in thread_messages(client, thread, metadata=True):
        if message_key(message) != key:
            continue
        if bot_id is not None and message.get("bot_id") != bot_id:
            continue
        ts = str(message.get("ts") or "")
        return PostedMessage(ts, permalink(client, thread.channel, ts))
    return None


def add_reaction(client: WebClient, channel: str, ts: str, name: str) -> bool:
    """Put reaction ``name`` on the message; return True if added now, False if it was there.

    Raises SlackApiError for any other refusal.
    """
    try:
        client.reactions_add(channel=channel, timestamp=ts, name=name)
    except SlackApiError as exc:
        if slack_error(exc) == "already_reacted":
            return False
        raise
    return True
