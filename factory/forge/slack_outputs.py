"""The Slack output kinds: ``slack_reply`` (a message in the run's thread), ``slack_post`` (a
top-level message in the automation's ``slack_channel``: a digest) and ``slack_react``.

They go through the one output gate (``factory.forge.outputs``) like GitHub outputs: the
request is checked and sanitized here into a prepared payload, recorded as intent, then
performed. Idempotency: a reply carries the intent's key in Slack message metadata
(``factory.slack.messages``), and ``find_reply`` looks for it with ``conversations.replies``
before a crashed intent is performed again (``find_post`` the same over
``conversations.history`` since the intent); a reaction is idempotent on Slack's side
(``already_reacted`` counts as applied), so there is nothing to find.

Sanitizing a reply, in this order (the order of ``factory.forge.sanitize``, then Slack's):

1. ``scrub_text``: hidden code points removed, forged markers removed, secrets redacted;
2. ``neutralize_mentions``: ``@here``, ``@channel``, ``@user`` broken by a zero-width space;
3. capped to ``SLACK_TEXT_CAP`` characters (4,000: the text length Slack recommends; it
   truncates past 40,000), with a note saying how much was cut;
4. ``&``, ``<`` and ``>`` escaped as ``&amp;``, ``&lt;``, ``&gt;`` (what Slack asks of
   literal text), so no ``<!channel>``, ``<!here>``, ``<!everyone>``, ``<@U…>``, ``<#C…>``,
   ``<!subteam^…>`` or ``<url|label>`` link can come out of agent text. Escaping comes last
   and after the cap, so no entity is cut in half; it grows the text at most fivefold,
   still far under Slack's 40,000.

Posting sends ``parse=none`` without ``link_names`` as well. A run with no thread (its
subject is no Slack thread and its issue came from none) is refused.

These functions see ``RunContext``/``PreparedOutput`` only as types: ``output_requests`` and
``output_performers`` import this module to register the kinds, so it imports neither.
"""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from slack_sdk.errors import SlackApiError

from factory.errors import OutputFailed, OutputRefused
from factory.forge.sanitize import cap_text, neutralize_mentions, scrub_text
from factory.slack.messages import (
    SlackSide,
    SlackThread,
    add_reaction,
    find_channel_message,
    find_message,
    permalink,
    post_channel_message,
    post_message,
    slack_error,
    thread_messages,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from factory.forge.output_requests import PreparedOutput, RunContext
    from factory.store import RunStore

SLACK_TEXT_CAP = 4_000
"""Characters of a reply kept before escaping (module docstring, step 3)."""

Written = tuple[str | None, dict[str, Any]]
"""What a Slack performer made: its URL (permalink) and the ids worth keeping."""

_TS = r"^[0-9]{6,}\.[0-9]{6}$"


class SlackReplyRequest(BaseModel):
    """Post a message in the Slack thread this run came from."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    text: str = Field(min_length=1)
    """The message (plain text; Slack mentions and links are not produced from it)."""


class SlackPostRequest(BaseModel):
    """Post a message in this automation's Slack channel (top level, not in a thread)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    text: str = Field(min_length=1)
    """The message (plain text; URLs stay links, Slack mentions are not produced from it)."""


class SlackReactRequest(BaseModel):
    """Add an emoji reaction to the message that started this run (or another in its thread)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    name: str = Field(pattern=r"^[a-z0-9_+'-]{1,100}$")
    """The emoji's name without colons, e.g. "eyes" or "white_check_mark"."""
    ts: str | None = Field(default=None, pattern=_TS)
    """The message's ts; defaults to the message that started the run."""


# -- sanitizing ------------------------------------------------------------------------


def escape_slack(text: str) -> str:
    """Return ``text`` with ``&``, ``<`` and ``>`` escaped as Slack wants literal text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(text: str, secrets: Sequence[str] = (), notes: list[str] | None = None) -> str:
    """Return agent-written ``text`` safe to post in Slack (steps 1–4 of the module doc).

    Appends a note to ``notes`` when the text was cut.
    """
    clean = neutralize_mentions(scrub_text(text, secrets))
    if len(clean) > SLACK_TEXT_CAP and notes is not None:
        notes.append(f"the text was truncated to {SLACK_TEXT_CAP} characters")
    return escape_slack(cap_text(clean, SLACK_TEXT_CAP))


def slack_link(url: str, label: str) -> str:
    """Return a Slack link to ``url`` (daemon-made) shown as ``label`` (sanitized like agent
    text: it may hold a title someone wrote)."""
    return f"<{escape_slack(url).replace('|', '%7C')}|{slack_text(label)}>"


# -- preparing ---------------------------------------------------------------------------


def _thread(slack: SlackSide | None, kind: str, run_id: str) -> SlackThread:
    if slack is None or slack.thread is None:
        raise OutputRefused(f"{kind}: run {run_id} has no Slack thread to write to")
    return slack.thread


def prepare_slack(
    request: BaseModel, ctx: RunContext, config: Any, notes: list[str]
) -> dict[str, Any]:
    """Return the payload of a checked Slack request: channel, thread and text or emoji.

    Raises OutputRefused when the run has no thread or the emoji is not allowed.
    """
    if isinstance(request, SlackReplyRequest):
        thread = _thread(ctx.slack, "slack_reply", ctx.run_id)
        text = slack_text(request.text, ctx.secrets, notes)
        return {"channel": thread.channel, "thread_ts": thread.ts, "text": text}
    if isinstance(request, SlackPostRequest):
        if ctx.slack is None or ctx.slack.channel is None:
            raise OutputRefused(f"slack_post: run {ctx.run_id} has no Slack channel to post to")
        text = slack_text(request.text, ctx.secrets, notes)
        return {"channel": ctx.slack.channel, "text": text}
    if isinstance(request, SlackReactRequest):
        thread = _thread(ctx.slack, "slack_react", ctx.run_id)
        allowed = config.allowed
        if allowed is not None and request.name not in allowed:
            raise OutputRefused(
                f"slack_react: emoji {request.name!r} is not allowed"
                f" (allowed: {', '.join(map(repr, allowed)) or 'none'})"
            )
        assert ctx.slack is not None
        ts = request.ts or ctx.slack.trigger_ts or thread.ts
        return {"channel": thread.channel, "thread_ts": thread.ts, "ts": ts, "name": request.name}
    raise OutputRefused("unknown Slack output kind")


# -- performing ----------------------------------------------------------------------------


def _side(ctx: RunContext, kind: str) -> SlackSide:
    if ctx.slack is None:
        raise OutputFailed(f"{kind}: run {ctx.run_id} has no Slack client (no bot token set)")
    return ctx.slack


def _stored_thread(prepared: PreparedOutput) -> SlackThread:
    p = prepared.payload
    return SlackThread(str(p["channel"]), str(p["thread_ts"]))


def perform_reply(ctx: RunContext, prepared: PreparedOutput, key: str) -> Written:
    """Post the reply with ``key`` in its metadata; return its permalink and ts.

    Raises OutputFailed with Slack's error code when Slack refuses.
    """
    side = _side(ctx, "slack_reply")
    try:
        posted = post_message(side.client, _stored_thread(prepared), prepared.payload["text"], key)
    except SlackApiError as exc:
        raise OutputFailed(f"slack_reply: Slack answered {slack_error(exc)}") from None
    return posted.url, {"ts": posted.ts, "channel": prepared.payload["channel"]}


def find_reply(
    ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
) -> Written | None:
    """Return the thread's reply carrying ``key`` (by the bot, when its id is known), or None."""
    side = _side(ctx, "slack_reply")
    try:
        found = find_message(side.client, _stored_thread(prepared), key, bot_id=side.bot_id)
    except SlackApiError as exc:
        raise OutputFailed(f"slack_reply: Slack answered {slack_error(exc)}") from None
    if found is None:
        return None
    return found.url, {"ts": found.ts, "channel": prepared.payload["channel"]}


def perform_post(ctx: RunContext, prepared: PreparedOutput, key: str) -> Written:
    """Post the channel message with ``key`` in its metadata; return its permalink and ts.

    Raises OutputFailed with Slack's error code when Slack refuses.
    """
    side = _side(ctx, "slack_post")
    channel = str(prepared.payload["channel"])
    try:
        posted = post_channel_message(side.client, channel, prepared.payload["text"], key)
    except SlackApiError as exc:
        raise OutputFailed(f"slack_post: Slack answered {slack_error(exc)}") from None
    return posted.url, {"ts": posted.ts, "channel": channel}


def find_post(
    ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
) -> Written | None:
    """Return the channel's message carrying ``key`` posted since the intent (by the bot,
    when its id is known), or None."""
    side = _side(ctx, "slack_post")
    channel = str(prepared.payload["channel"])
    at = since if since.tzinfo else since.replace(tzinfo=UTC)  # the store's times are UTC
    oldest = f"{int(at.timestamp()) - 60}.000000"  # a minute of clock skew
    try:
        found = find_channel_message(side.client, channel, key, oldest=oldest, bot_id=side.bot_id)
    except SlackApiError as exc:
        raise OutputFailed(f"slack_post: Slack answered {slack_error(exc)}") from None
    if found is None:
        return None
    return found.url, {"ts": found.ts, "channel": channel}


def perform_react(ctx: RunContext, prepared: PreparedOutput, key: str) -> Written:
    """Add the reaction (already there counts as done); return the message's permalink.

    Raises OutputRefused when the message is not in the run's thread, OutputFailed when
    Slack refuses.
    """
    side = _side(ctx, "slack_react")
    p = prepared.payload
    thread = _stored_thread(prepared)
    try:
        if p["ts"] != thread.ts and all(
            m.get("ts") != p["ts"] for m in thread_messages(side.client, thread)
        ):
            raise OutputRefused(f"slack_react: message {p['ts']} is not in this run's thread")
        added = add_reaction(side.client, thread.channel, p["ts"], p["name"])
    except SlackApiError as exc:
        raise OutputFailed(f"slack_react: Slack answered {slack_error(exc)}") from None
    url = permalink(side.client, thread.channel, p["ts"])
    return url, {"ts": p["ts"], "name": p["name"], "added": added}


def find_react(
    ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
) -> Written | None:
    """Return None: adding a reaction again is harmless (Slack answers already_reacted)."""
    return None


def run_slack_side(
    store: RunStore,
    client: Any,
    subject_key: str | None,
    *,
    trigger_ts: str | None = None,
    bot_id: str | None = None,
    channel: str | None = None,
) -> SlackSide:
    """Return the SlackSide of a run about ``subject_key``: its thread is the subject when the
    subject is a Slack thread, else the thread lineage links to its issue or PR (or none);
    ``channel`` is the automation's ``slack_channel``."""
    if subject_key is not None and subject_key.startswith("slack:"):
        own = SlackThread.parse(subject_key.removeprefix("slack:"))
        return SlackSide(client, own, trigger_ts or own.ts, True, bot_id, channel)
    linked = store.slack_thread_of(subject_key) if subject_key else None
    thread = SlackThread.parse(linked) if linked else None
    return SlackSide(client, thread, trigger_ts, False, bot_id, channel)
