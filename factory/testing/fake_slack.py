"""FakeSlack: Slack's Web API and Socket Mode as real servers on 127.0.0.1.

Point slack_sdk at it::

    with FakeSlack() as slack:
        slack.add_user("U1", "alice", display_name="Alice")
        slack.add_channel("C1", "bugs")
        web = WebClient(token=slack.bot_token, base_url=slack.api_url)
        body = slack.mention("U1", "C1", "the export button 500s")
        envelope_id = slack.deliver_socket(body)   # to a connected SocketModeClient

The Web API (``api_url``) is a stdlib HTTP server; Socket Mode is a WebSocket server on its
own port whose URL ``apps.connections.open`` answers. Errors look like Slack's: HTTP 200
``{"ok": false, "error": …}``, HTTP 429 + ``Retry-After`` only for rate limits.
``calls`` records every Web API call as ``(method, params)`` without tokens; a url_private
download is recorded as ``("files.download", {"file": id})``.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from http.server import ThreadingHTTPServer
from typing import Any

import httpx

from factory.testing.served import LoopbackServer
from factory.testing.slack_events import callback_body, message_event, signed_headers
from factory.testing.slack_methods import methods
from factory.testing.slack_socket import WAIT_S, SocketHub
from factory.testing.slack_state import JSON, Channel, User, Workspace
from factory.testing.slack_web import WebApi, make_server


class FakeSlack(LoopbackServer):
    """A Slack workspace with one bot, answering the Web API subset and Socket Mode."""

    thread_name = "fake-slack"

    def __init__(self, close_after_disconnect: float = 10.0) -> None:
        """Make the workspace; ``close_after_disconnect`` is how long a connection sent a
        ``disconnect`` frame stays open before the server closes it (Slack: about 10 s)."""
        super().__init__()
        suffix = uuid.uuid4().hex[:8]
        self.bot_token = f"xoxb-fake-{suffix}"
        self.app_token = f"xapp-1-fake-{suffix}"
        self.signing_secret = uuid.uuid4().hex
        self.team_id = "T0FAKE0001"
        self.bot_user_id = "U0FAKEBOT1"
        self.bot_id = "B0FAKEBOT1"
        self.workspace = Workspace(self.team_id, "factory-test", self.bot_user_id, self.bot_id)
        self.socket = SocketHub(self.workspace.app_id, close_after_disconnect)
        self.web = WebApi(
            self.workspace, self.bot_token, self.app_token, methods(self.socket.open_url)
        )

    # -- lifecycle ---------------------------------------------------------------

    def _make_server(self) -> ThreadingHTTPServer:
        return make_server(self.web)

    def _on_started(self, port: int) -> None:
        self.workspace.files_base = f"http://127.0.0.1:{port}"
        self.socket.start()

    def _on_stopped(self) -> None:
        self.socket.stop()

    @property
    def api_url(self) -> str:
        """Return the Web API base URL (``http://127.0.0.1:PORT/api/``); start() first."""
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """Return a copy of the Web API calls seen, as ``(method, params)`` (no tokens)."""
        with self.workspace.lock:
            return copy.deepcopy(self.web.calls)

    @property
    def app_id(self) -> str:
        """Return the app's id (``api_app_id`` in event bodies)."""
        return self.workspace.app_id

    # -- setup -------------------------------------------------------------------

    def add_user(
        self, user_id: str, name: str, display_name: str | None = None, is_bot: bool = False
    ) -> None:
        """Register a workspace member (users.info)."""
        with self.workspace.lock:
            self.workspace.users[user_id] = User(user_id, name, display_name or name, is_bot)

    def add_channel(self, channel_id: str, name: str, member: bool = True) -> None:
        """Create a channel; the bot is a member unless ``member`` is False."""
        with self.workspace.lock:
            self.workspace.channels[channel_id] = Channel(channel_id, name, member)
            self.workspace.messages.setdefault(channel_id, [])

    def add_usergroup(self, group_id: str, users: list[str]) -> None:
        """Create (or replace) a user group with these members (usergroups.users.list)."""
        with self.workspace.lock:
            self.workspace.usergroups[group_id] = list(users)

    def add_file(self, name: str, content: bytes, mimetype: str, user: str | None = None) -> str:
        """Store an uploaded file (files.info, url_private download); return its id."""
        with self.workspace.lock:
            owner = user or next(iter(u for u in self.workspace.users if u != self.bot_user_id), "")
            return self.workspace.add_file(name, content, mimetype, owner).id

    def fail_next(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with ``{"ok": false, "error": error}``."""
        with self.workspace.lock:
            self.web.injections.errors.setdefault(method, []).extend([error] * times)

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 429 and ``Retry-After``."""
        with self.workspace.lock:
            self.web.injections.rate.setdefault(method, []).extend([retry_after] * times)

    # -- what users do -------------------------------------------------------------

    def _user_message(
        self, user: str, channel: Channel, said: str, thread_ts: str | None, files: list[str]
    ) -> JSON:
        ws = self.workspace
        if user not in ws.users:
            raise ValueError(f"unknown user {user}")
        for file_id in files:
            if file_id not in ws.files:
                raise ValueError(f"unknown file {file_id}")
        if thread_ts is not None and thread_ts not in {m.ts for m in ws.messages[channel.id]}:
            raise ValueError(f"no message {thread_ts} in {channel.id}")
        kind = "app_mention" if channel.im_user is None else "message"
        text = f"<@{self.bot_user_id}> {said}" if kind == "app_mention" else said
        msg = ws.post(channel, user, text, thread_ts, files=files, client_msg_id=str(uuid.uuid4()))
        event = message_event(ws, msg, kind, said)
        return callback_body(ws, event, int(float(msg.ts)))

    def mention(
        self,
        user: str,
        channel: str,
        text: str,
        thread_ts: str | None = None,
        files: list[str] | None = None,
    ) -> JSON:
        """Post ``<@BOT> text`` by ``user`` (in the thread ``thread_ts`` if given); return the
        app_mention event_callback body. Raises ValueError for an unknown user/channel/file."""
        with self.workspace.lock:
            if channel not in self.workspace.channels:
                raise ValueError(f"unknown channel {channel}")
            chan = self.workspace.channels[channel]
            return self._user_message(user, chan, text, thread_ts, list(files or []))

    def say(self, user: str, channel: str, text: str) -> str:
        """Post ``text`` by ``user`` as a top-level message of ``channel`` (no mention, so no
        event); return its ts. Raises ValueError for an unknown user or channel."""
        with self.workspace.lock:
            if channel not in self.workspace.channels or user not in self.workspace.users:
                raise ValueError(f"unknown channel {channel} or user {user}")
            chan = self.workspace.channels[channel]
            return self.workspace.post(chan, user, text, client_msg_id=str(uuid.uuid4())).ts

    def direct_message(
        self, user: str, text: str, thread_ts: str | None = None, files: list[str] | None = None
    ) -> JSON:
        """Post ``text`` by ``user`` in their DM with the bot; return the message.im body."""
        with self.workspace.lock:
            if user not in self.workspace.users:
                raise ValueError(f"unknown user {user}")
            chan = self.workspace.dm_channel(user)
            return self._user_message(user, chan, text, thread_ts, list(files or []))

    # -- delivery ------------------------------------------------------------------

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """Return ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` for ``body``."""
        return signed_headers(self.signing_secret, body, int(timestamp or time.time()))

    def deliver_http(
        self, url: str, body: JSON, retry_num: int = 0, timestamp: int | None = None
    ) -> httpx.Response:
        """POST ``body`` to an Events API Request URL, signed; a retry carries
        ``X-Slack-Retry-Num``/``X-Slack-Retry-Reason: http_timeout``."""
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **self.sign(raw, timestamp)}
        if retry_num > 0:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return httpx.post(url, content=raw, headers=headers, timeout=10)

    def deliver_socket(self, body: JSON, timeout: float = WAIT_S) -> str:
        """Send ``body`` as an events_api envelope to the connected Socket Mode client;
        return the envelope_id. Raises RuntimeError when no client connects in ``timeout``."""
        return self.socket.deliver(body, timeout)

    def resend(self, envelope_id: str, reason: str = "timeout") -> str:
        """Send an envelope again (``retry_attempt`` + 1, same envelope_id); return the id."""
        return self.socket.resend(envelope_id, reason)

    def acked(self, envelope_id: str) -> bool:
        """Return whether the client acked ``envelope_id``."""
        return envelope_id in self.socket.acks

    def wait_acked(self, envelope_id: str, timeout: float = WAIT_S) -> bool:
        """Wait up to ``timeout`` for the ack of ``envelope_id``; return whether it came."""
        return self.socket.wait_acked(envelope_id, timeout)

    def wait_connected(self, n: int = 1, timeout: float = WAIT_S) -> bool:
        """Wait until ``n`` Socket Mode connections in all got ``hello``."""
        return self.socket.wait_hellos(n, timeout)

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Send the current Socket Mode client a ``disconnect`` frame (it must reconnect)."""
        self.socket.disconnect(reason)

    # -- what happened -------------------------------------------------------------

    def thread(self, channel: str, thread_ts: str) -> list[JSON]:
        """Return the thread's messages (parent first, the bot's included, with metadata)."""
        with self.workspace.lock:
            msgs = self.workspace.thread(channel, thread_ts)
            return [self.workspace.message_json(m, with_metadata=True) for m in msgs]

    def channel_messages(self, channel: str) -> list[JSON]:
        """Return the channel's top-level messages, oldest first, with metadata."""
        with self.workspace.lock:
            msgs = self.workspace.messages.get(channel, [])
            top = [m for m in msgs if m.thread_ts in (None, m.ts)]
            return [self.workspace.message_json(m, with_metadata=True) for m in top]

    def reactions(self, channel: str, ts: str) -> list[str]:
        """Return the reaction names the bot added to message ``ts``."""
        with self.workspace.lock:
            return list(self.workspace.reactions.get((channel, ts), []))
