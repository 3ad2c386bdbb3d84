"""FakeSlack's Web API methods: each takes a ``Call`` and returns the body after ``"ok": true``.

Shapes follow the payloads in tests/data/slack/ (Slack's OpenAPI examples): errors are raised
as ``SlackError(code)`` and answered ``{"ok": false, "error": code}`` by slack_web.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable

from factory.testing.slack_state import JSON, Message, SlackError, ts_key
from factory.testing.slack_web import Call, Method

MAX_LIMIT = 1000


def auth_test(call: Call) -> JSON:
    """auth.test for the bot token: the bot's user id and bot id."""
    ws = call.workspace
    return {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": "Factory Test Workspace",
        "user": ws.users[ws.bot_user_id].name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def _metadata(call: Call) -> JSON | None:
    raw = call.params.get("metadata")
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise SlackError("invalid_metadata_format") from None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("event_type"), str)
        or not isinstance(value.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_format")
    return {"event_type": value["event_type"], "event_payload": value["event_payload"]}


def chat_post_message(call: Call) -> JSON:
    """chat.postMessage as the bot; a ``thread_ts`` makes a reply, ``metadata`` is kept."""
    ws = call.workspace
    channel = ws.channel(call.need("channel", "channel_not_found"))
    text = call.arg("text")
    if text is None and not call.params.get("blocks") and not call.params.get("attachments"):
        raise SlackError("no_text")
    if not channel.member:
        raise SlackError("not_in_channel")
    metadata = _metadata(call)
    thread_ts = call.arg("thread_ts")
    if thread_ts is not None:
        try:
            ts_key(thread_ts)
            ws.message(channel.id, thread_ts)
        except SlackError:
            raise SlackError("invalid_thread_ts") from None
    msg = ws.post(
        channel, ws.bot_user_id, text or "", thread_ts, bot_id=ws.bot_id, metadata=metadata
    )
    shown = ws.message_json(msg, with_metadata=True)
    shown["bot_profile"] = {"id": ws.bot_id, "app_id": ws.app_id, "name": "factory"}
    return {"channel": channel.id, "ts": msg.ts, "message": shown}


def _cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts.replace('.', '')}".encode()).decode()


def _cursor_ts(cursor: str) -> tuple[int, int]:
    try:
        raw = base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    prefix, _, digits = raw.partition(":")
    if prefix != "next_ts" or not digits.isdigit() or len(digits) <= 6:
        raise SlackError("invalid_cursor")
    return int(digits[:-6]), int(digits[-6:])


def _in_range(msg: Message, call: Call) -> bool:
    inclusive = call.flag("inclusive")
    key = ts_key(msg.ts)
    oldest, latest = call.arg("oldest"), call.arg("latest")
    if oldest is not None and (key < ts_key(oldest) or (key == ts_key(oldest) and not inclusive)):
        return False
    return not (
        latest is not None and (key > ts_key(latest) or (key == ts_key(latest) and not inclusive))
    )


def conversations_replies(call: Call) -> JSON:
    """conversations.replies: the parent first, then replies in ts order, paged by cursor.

    ``oldest``/``latest``/``inclusive`` filter the replies (the parent is always on page one);
    message ``metadata`` only with ``include_all_metadata``.
    """
    ws = call.workspace
    channel = ws.channel(call.need("channel", "channel_not_found"))
    if not channel.member:
        raise SlackError("not_in_channel")
    ts = call.need("ts", "thread_not_found")
    ts_key(ts)
    try:
        limit = int(call.arg("limit") or MAX_LIMIT)
    except ValueError:
        raise SlackError("invalid_limit") from None
    limit = min(max(limit, 1), MAX_LIMIT)
    parent, *replies = ws.thread(channel.id, ts)
    items = [parent, *[m for m in replies if _in_range(m, call)]]
    cursor = call.arg("cursor")
    if cursor is not None:
        start = _cursor_ts(cursor)
        items = [m for m in items[1:] if ts_key(m.ts) >= start]
    page, rest = items[:limit], items[limit:]
    meta = call.flag("include_all_metadata")
    out: JSON = {
        "messages": [ws.message_json(m, with_metadata=meta) for m in page],
        "has_more": bool(rest),
    }
    if rest:
        out["response_metadata"] = {"next_cursor": _cursor(rest[0].ts)}
    return out


HISTORY_LIMIT = 100
"""conversations.history's default ``limit``."""


def conversations_history(call: Call) -> JSON:
    """conversations.history: the channel's top-level messages (replies only in their
    threads), newest first, ``oldest``/``latest``/``inclusive`` filtered, paged by cursor;
    message ``metadata`` only with ``include_all_metadata``."""
    ws = call.workspace
    channel = ws.channel(call.need("channel", "channel_not_found"))
    if not channel.member:
        raise SlackError("not_in_channel")
    try:
        limit = int(call.arg("limit") or HISTORY_LIMIT)
    except ValueError:
        raise SlackError("invalid_limit") from None
    limit = min(max(limit, 1), MAX_LIMIT - 1)
    top = [m for m in ws.messages.get(channel.id, []) if m.thread_ts in (None, m.ts)]
    items = sorted((m for m in top if _in_range(m, call)), key=lambda m: ts_key(m.ts))[::-1]
    cursor = call.arg("cursor")
    if cursor is not None:
        start = _cursor_ts(cursor)
        items = [m for m in items if ts_key(m.ts) <= start]
    page, rest = items[:limit], items[limit:]
    meta = call.flag("include_all_metadata")
    out: JSON = {
        "messages": [ws.message_json(m, with_metadata=meta) for m in page],
        "has_more": bool(rest),
        "pin_count": 0,
    }
    if rest:
        out["response_metadata"] = {"next_cursor": _cursor(rest[0].ts)}
    return out


def reactions_add(call: Call) -> JSON:
    """reactions.add by the bot; ``already_reacted`` when it already added that name."""
    ws = call.workspace
    channel = ws.channel(call.need("channel", "channel_not_found"))
    name = call.arg("name")
    if name is None or ":" in name or " " in name:
        raise SlackError("invalid_name")
    msg = ws.message(channel.id, call.need("timestamp", "no_item_specified"))
    names = ws.reactions.setdefault((channel.id, msg.ts), [])
    if name in names:
        raise SlackError("already_reacted")
    names.append(name)
    return {}


def users_info(call: Call) -> JSON:
    """users.info."""
    ws = call.workspace
    return {"user": ws.user_json(ws.user(call.need("user", "user_not_found")))}


def usergroups_users_list(call: Call) -> JSON:
    """usergroups.users.list: the group's member ids."""
    group = call.need("usergroup", "no_such_subteam")
    members = call.workspace.usergroups.get(group)
    if members is None:
        raise SlackError("no_such_subteam")
    return {"users": list(members)}


def files_info(call: Call) -> JSON:
    """files.info: the file object (url_private points at this fake)."""
    ws = call.workspace
    stored = ws.files.get(call.need("file", "file_not_found"))
    if stored is None:
        raise SlackError("file_not_found")
    return {"file": ws.file_json(stored), "comments": [], "response_metadata": {"next_cursor": ""}}


def chat_get_permalink(call: Call) -> JSON:
    """chat.getPermalink."""
    ws = call.workspace
    channel = ws.channel(call.need("channel", "channel_not_found"))
    msg = ws.message(channel.id, call.need("message_ts", "message_not_found"))
    return {"channel": channel.id, "permalink": ws.permalink(msg)}


def methods(open_connection: Callable[[], str]) -> dict[str, Method]:
    """Return the method table; apps.connections.open answers ``open_connection()``'s URL."""

    def apps_connections_open(call: Call) -> JSON:
        return {"url": open_connection()}

    table: dict[str, Method] = {
        "auth.test": auth_test,
        "apps.connections.open": apps_connections_open,
        "chat.postMessage": chat_post_message,
        "chat.getPermalink": chat_get_permalink,
        "conversations.replies": conversations_replies,
        "conversations.history": conversations_history,
        "reactions.add": reactions_add,
        "users.info": users_info,
        "usergroups.users.list": usergroups_users_list,
        "files.info": files_info,
    }
    return table
