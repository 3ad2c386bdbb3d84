"""Events API bodies FakeSlack delivers, and Slack's request signing.

Bodies are shaped like tests/data/slack/socket.events_api.app_mention.json's payload (the
modern event_callback: ``authorizations``, ``event_context``); signatures follow Slack's
v0 scheme (HMAC-SHA256 over ``v0:<timestamp>:<raw body>`` with the signing secret).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from factory.testing.slack_state import JSON, Message, Workspace


def event_id() -> str:
    """Return a fresh Slack-style event id ("Ev…")."""
    return "Ev" + uuid.uuid4().hex[:10].upper()


def _blocks(ws: Workspace, text: str, mention: bool) -> list[JSON]:
    elements: list[JSON] = []
    if mention:
        elements.append({"type": "user", "user_id": ws.bot_user_id})
        text = " " + text
    if text.strip():
        elements.append({"type": "text", "text": text})
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:4],
            "elements": [{"type": "rich_text_section", "elements": elements}],
        }
    ]


def message_event(ws: Workspace, msg: Message, kind: str, said: str) -> JSON:
    """Return the ``event`` of a user's message: ``app_mention`` or a ``message`` in a DM."""
    event: JSON = {
        "client_msg_id": msg.client_msg_id,
        "type": kind,
        "text": msg.text,
        "user": msg.user,
        "ts": msg.ts,
        "team": ws.team_id,
        "blocks": _blocks(ws, said, mention=kind == "app_mention"),
        "channel": msg.channel,
        "event_ts": msg.ts,
    }
    if kind == "message":
        event["channel_type"] = "im"
    if msg.thread_ts and msg.thread_ts != msg.ts:
        event["thread_ts"] = msg.thread_ts
        event["parent_user_id"] = ws.message(msg.channel, msg.thread_ts).user
    if msg.files:
        event["files"] = [ws.file_json(ws.files[f]) for f in msg.files]
        event["upload"] = False
    return event


def callback_body(ws: Workspace, event: JSON, event_time: int) -> JSON:
    """Wrap an event in the event_callback body Slack sends the app."""
    kind = event["type"]
    return {
        "token": "verification-token",
        "team_id": ws.team_id,
        "api_app_id": ws.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id(),
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ws.team_id,
                "user_id": ws.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{kind}-{ws.team_id}-{event['channel']}",
    }


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """Return the ``X-Slack-Signature`` value for ``body`` sent at ``timestamp``."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Return the signing headers Slack sends with an Events API POST."""
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature(secret, body, timestamp),
    }
