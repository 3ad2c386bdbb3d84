"""Slack events in, stored Events out: one slack-bolt ``App`` for Socket Mode and HTTP mode.

Design. ``SlackSource`` owns a bolt ``App`` built with ``process_before_response=True``:
a listener runs to its end *before* bolt answers, so the Event is committed to the store
before the Socket Mode ``ack`` or the HTTP 200 goes out; if the store fails, bolt answers
500 (HTTP) or does not ack (Socket Mode) and Slack delivers again. The dedup key is
``slack:<event_id>`` (Slack's id of the event, the same on every retry and re-sent
envelope), so a redelivery finds its key stored and makes no second event.

What becomes an Event (kind ``app_mention`` or ``message.im``, subject the thread
``slack:CHANNEL/PARENT_TS``, payload as factory/events.py's Slack shape):
- ``app_mention`` by a person, in a channel listed in the policy's ``slack.channels``;
- a direct message to the bot (``message`` with ``channel_type`` ``im``), unless the
  policy turns direct messages off.

What starts nothing:
- the bot's own messages: bolt's ``ignoring_self_events`` drops them before any listener
  (not stored);
- channel messages that do not mention the bot, and events of other types: acknowledged,
  not stored (a mention in a channel also arrives as ``app_mention``; that one counts);
- stored as *ignored* (kept for the record, never dispatched), with the reason logged:
  other bots' messages (``bot_id`` or subtype ``bot_message``): ``bot_message``; a message
  subtype other than a plain, file-share or thread-broadcast message (``message_changed``,
  ``message_deleted``, joins, …): ``subtype_<name>``; a mention in a channel not listed:
  ``channel_not_listed``; a direct message with direct messages off:
  ``direct_messages_off``.
- an **edited mention**: Slack sends ``app_mention`` again (a new event_id, the same ts,
  an ``edited`` field) when a message that mentions the bot is edited. It is stored as
  ignored (``edited_mention``): the original mention already counted, and a fresh mention
  is how to ask again. (A message edited to *add* a mention is ignored the same way.)

Trust comes from factory.slack.trust (the policy's ``slack:`` section through the one
trust mapping). Logs name the event id, channel and reason, never the text or a token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from factory.config.harness import Policy
from factory.events import Event, Subject, Trust, subject_key
from factory.slack.trust import UsergroupMembers, slack_trust
from factory.store.event_log import EventLog

log = structlog.get_logger(__name__)

USER_SUBTYPES = frozenset({"", "file_share", "thread_broadcast"})
"""Message subtypes that are a person's message ("": no subtype)."""


class SlackSource:
    """The bolt App whose listeners store Slack mentions and direct messages as Events."""

    def __init__(
        self,
        store: EventLog,
        client: WebClient,
        policy: Callable[[], Policy],
        *,
        signing_secret: str | None = None,
        members: UsergroupMembers | None = None,
        on_stored: Callable[[], None] | None = None,
        token_verification: bool = True,
    ) -> None:
        """Build the App on ``client`` (its token is the bot token).

        ``policy`` returns the current policy (hot reload); ``signing_secret`` makes bolt
        verify HTTP requests again (None: Socket Mode only); ``members`` resolves user
        groups (default: asked with ``client``); ``on_stored`` is called after a new event
        is committed. ``token_verification`` calls ``auth.test`` now (the bot's own ids, so
        its messages are ignored). Raises slack_bolt.BoltError when Slack refuses the token.
        """
        self.store, self.policy, self.on_stored = store, policy, on_stored
        self.members = members if members is not None else UsergroupMembers(client)
        self.app = App(
            client=client,
            signing_secret=signing_secret or "",
            request_verification_enabled=bool(signing_secret),
            token_verification_enabled=token_verification,
            process_before_response=True,
            ignoring_self_events_enabled=True,
            url_verification_enabled=True,
        )
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.event(re.compile(".*"))(_acknowledge)
        self._socket: SocketModeHandler | None = None

    # -- listeners (bolt passes ``body`` by name) --------------------------------------

    def _on_mention(self, body: dict[str, Any]) -> None:
        event = body.get("event") or {}
        reason = _not_a_person(event)
        if reason is None and "edited" in event:
            reason = "edited_mention"
        if reason is None:
            reason = self.policy().slack.refusal(str(event.get("channel", "")), None)
        self._store(body, "app_mention", reason)

    def _on_message(self, body: dict[str, Any]) -> None:
        event = body.get("event") or {}
        if event.get("channel_type") != "im":
            log.debug(
                "slack_message_skipped",
                event_id=body.get("event_id"),
                channel=event.get("channel"),
                reason="not_a_direct_message",
            )
            return
        reason = _not_a_person(event)
        if reason is None:
            reason = self.policy().slack.refusal(str(event.get("channel", "")), "im")
        self._store(body, "message.im", reason)

    def _store(self, body: Mapping[str, Any], kind: str, ignored: str | None) -> None:
        """Commit the delivery as an Event (ignored when ``ignored`` names why)."""
        event = body.get("event") or {}
        if not isinstance(body.get("event_id"), str) or not body["event_id"]:
            log.warning("slack_event_ignored", reason="no_event_id", channel=event.get("channel"))
            return
        user = event.get("user") if isinstance(event.get("user"), str) else None
        trust: Trust = "anyone"
        if ignored is None and user is not None:
            trust = slack_trust(self.policy(), user, self.members)
        normalized = slack_event(body, kind, trust)
        if ignored is None and (user is None or normalized.subject is None):
            ignored = "malformed_event"
        event_id, created = self.store.add_event(normalized, ignored=ignored)
        fields = {
            "event_id": normalized.payload.get("event_id"),
            "channel": normalized.payload.get("channel"),
            "slack_event": kind,
            "stored_event": event_id,
            "duplicate": not created,
        }
        if ignored is not None:
            log.info("slack_event_ignored", reason=ignored, **fields)
            return
        log.info("slack_event_received", trust=trust, **fields)
        if created and self.on_stored is not None:
            self.on_stored()

    # -- Socket Mode -------------------------------------------------------------------

    def start_socket_mode(self, app_token: str) -> None:
        """Connect to Slack over Socket Mode with ``app_token`` (xapp-…) and return.

        slack_sdk's built-in client receives in its own threads and reconnects on
        ``disconnect``. Raises slack_sdk.errors.SlackApiError when Slack refuses the token.
        """
        handler = SocketModeHandler(self.app, app_token)
        handler.connect()  # type: ignore[no-untyped-call]
        self._socket = handler
        log.info("slack_socket_mode_connected")

    def stop(self) -> None:
        """Close the Socket Mode connection, if any (in-flight listeners finish first)."""
        handler, self._socket = self._socket, None
        if handler is not None:
            handler.close()  # type: ignore[no-untyped-call]
            log.info("slack_socket_mode_closed")


def _acknowledge() -> None:
    """Catch-all listener: other events are acknowledged (bolt would answer 404)."""


def _not_a_person(event: Mapping[str, Any]) -> str | None:
    """Return why ``event`` is not a person's plain message, or None when it is."""
    subtype = str(event.get("subtype") or "")
    if event.get("bot_id") or subtype == "bot_message":
        return "bot_message"
    if subtype not in USER_SUBTYPES:
        return f"subtype_{subtype}"
    return None


def slack_event(body: Mapping[str, Any], kind: str, trust: Trust) -> Event:
    """Return the Event for an Events API ``body`` (an ``event_callback``) of ``kind``.

    The subject is the thread (``CHANNEL/PARENT_TS``; a top-level message is its own
    parent), or None when the channel or ts cannot name one. Never raises for missing
    fields (the caller makes sure ``event_id`` is there: it is the dedup key).
    """
    event: Mapping[str, Any] = body.get("event") or {}
    channel = str(event.get("channel") or "")
    ts = str(event.get("ts") or "")
    thread_ts = str(event.get("thread_ts") or ts)
    subject: Subject | None = Subject(kind="slack", thread=f"{channel}/{thread_ts}")
    try:
        subject_key(subject)
    except ValueError:
        subject = None
    raw_files = event.get("files")
    files: list[Any] = raw_files if isinstance(raw_files, list) else []
    user = event.get("user")
    return Event(
        source="slack",
        kind=kind,
        dedup_key=f"slack:{body.get('event_id') or ''}",
        subject=subject,
        actor=user if isinstance(user, str) else None,
        trust=trust,
        by_factory=False,
        payload={
            "event_id": str(body.get("event_id") or ""),
            "team": str(body.get("team_id") or event.get("team") or ""),
            "channel": channel,
            "ts": ts,
            "thread_ts": thread_ts,
            "user": user if isinstance(user, str) else "",
            "text": str(event.get("text") or ""),
            "files": [
                {
                    "id": str(f.get("id") or ""),
                    "name": str(f.get("name") or ""),
                    "mimetype": str(f.get("mimetype") or ""),
                }
                for f in files
                if isinstance(f, Mapping)
            ],
        },
    )
