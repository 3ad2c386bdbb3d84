"""FakeSlack answers with the keys of Slack's real payloads (tests/data/slack)."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.socket_mode.builtin.client import SocketModeClient

from factory.testing.fake_slack import FakeSlack

WAIT = 10.0
GIF_ONLY = {"deanimate_gif", "pjpeg", "thumb_360_gif"}
"""files.info keys Slack adds only for GIF images (the fixture is a GIF)."""
USER_TOKEN_ONLY = {"last_read", "unread_count"}
"""conversations.replies parent keys Slack shows only to user tokens."""


def fixture(data_dir: Path, name: str) -> Any:
    """Return one payload from tests/data/slack."""
    return json.loads((data_dir / "slack" / name).read_text())


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A started FakeSlack with alice (U1) and #bugs (C1)."""
    with FakeSlack() as fake:
        fake.add_user("U1", "alice", display_name="Alice")
        fake.add_channel("C1", "bugs")
        yield fake


@pytest.fixture
def web(slack: FakeSlack) -> WebClient:
    """A real WebClient with the bot token on the fake."""
    return WebClient(token=slack.bot_token, base_url=slack.api_url)


def raw_call(slack: FakeSlack, method: str, token: str | None, **form: str) -> httpx.Response:
    """POST one form-encoded Web API call, returning the raw HTTP answer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(slack.api_url + method, headers=headers, data=form)


def test_auth_test_keys(slack: FakeSlack, web: WebClient, data_dir: Path) -> None:
    """auth.test has the spec example's keys plus the bot token's bot_id/is_enterprise_install."""
    got = set(web.auth_test().data)
    expected = set(fixture(data_dir, "web.auth.test.ok.json")) | {"bot_id", "is_enterprise_install"}
    assert got == expected


def test_post_message_keys(slack: FakeSlack, web: WebClient, data_dir: Path) -> None:
    """chat.postMessage has the example's keys; its message has the example's bot keys."""
    got = web.chat_postMessage(channel="C1", text="hi").data
    example = fixture(data_dir, "web.chat.postMessage.ok.json")
    legacy = {"attachments", "subtype", "username"}  # attachments not sent; legacy bot_message
    assert (set(got), set(example["message"]) - legacy <= set(got["message"])) == (
        set(example),
        True,
    )


def test_replies_keys(slack: FakeSlack, web: WebClient, data_dir: Path) -> None:
    """A conversations.replies page with more has the example's keys, parent's and replies'."""
    parent = slack.mention("U1", "C1", "island")["event"]["ts"]
    for text in ("one", "two", "three"):
        slack.mention("U1", "C1", text, thread_ts=parent)
    got = web.conversations_replies(channel="C1", ts=parent, limit=3).data
    example = fixture(data_dir, "web.conversations.replies.ok.json")
    assert (
        set(got),
        set(example["messages"][0]) - USER_TOKEN_ONLY <= set(got["messages"][0]),
        set(example["messages"][1]) <= set(got["messages"][1]),
    ) == (set(example), True, True)


@pytest.mark.parametrize(
    ("name", "method", "token_kind", "inject"),
    [
        ("web.error.invalid_auth.json", "auth.test", "wrong", None),
        ("web.error.not_in_channel.json", "chat.postMessage", "bot", "not_in_channel"),
    ],
)
def test_error_bodies_match(
    slack: FakeSlack,
    data_dir: Path,
    name: str,
    method: str,
    token_kind: str,
    inject: str | None,
) -> None:
    """Errors are HTTP 200 with exactly the example's body."""
    if inject:
        slack.fail_next(method, inject)
    token = slack.bot_token if token_kind == "bot" else "xoxb-wrong"
    got = raw_call(slack, method, token, channel="C1", text="x")
    assert (got.status_code, got.json()) == (200, fixture(data_dir, name))


def test_ratelimited_body_matches(slack: FakeSlack, data_dir: Path) -> None:
    """A rate-limited call answers 429 with Retry-After and exactly the SDK mock's body."""
    slack.rate_limit_next("auth.test", retry_after=1)
    got = raw_call(slack, "auth.test", slack.bot_token)
    assert (got.status_code, got.headers["retry-after"], got.json()) == (
        429,
        "1",
        fixture(data_dir, "web.error.ratelimited.json"),
    )


def test_files_info_keys(slack: FakeSlack, web: WebClient, data_dir: Path) -> None:
    """files.info of a shared image has the example's keys, and its file the example's file keys."""
    file_id = slack.add_file("tedair.png", b"png", "image/png", user="U1")
    slack.mention("U1", "C1", "see", files=[file_id])
    got = web.files_info(file=file_id).data
    example = fixture(data_dir, "web.files.info.ok.json")
    assert (set(got), set(got["file"])) == (set(example), set(example["file"]) - GIF_ONLY)


def test_reactions_add_body(slack: FakeSlack, web: WebClient, data_dir: Path) -> None:
    """reactions.add answers exactly the example's body."""
    ts = slack.mention("U1", "C1", "hi")["event"]["ts"]
    got = web.reactions_add(channel="C1", timestamp=ts, name="eyes").data
    assert got == fixture(data_dir, "web.reactions.add.ok.json")


def test_users_info_keys(web: WebClient, data_dir: Path) -> None:
    """users.info's body, user and profile have the example's keys."""
    got = web.users_info(user="U1").data
    example = fixture(data_dir, "web.users.info.ok.json")
    assert (set(got), set(got["user"]), set(got["user"]["profile"])) == (
        set(example),
        set(example["user"]),
        set(example["user"]["profile"]),
    )


def test_mention_body_keys(slack: FakeSlack, data_dir: Path) -> None:
    """mention()'s body and event have the keys of Slack's Socket Mode app_mention payload."""
    body = slack.mention("U1", "C1", "hi")
    example = fixture(data_dir, "socket.events_api.app_mention.json")["payload"]
    assert (set(body), set(body["event"]), set(body["authorizations"][0])) == (
        set(example),
        set(example["event"]),
        set(example["authorizations"][0]),
    )


def test_mention_body_keeps_the_http_fixture_core(slack: FakeSlack, data_dir: Path) -> None:
    """mention()'s body has every key of the HTTP app_mention example but the legacy ones."""
    body = slack.mention("U1", "C1", "hi")
    example = fixture(data_dir, "events.app_mention.json")
    assert set(example) - {"enterprise_id", "authed_users"} <= set(body)


def test_thread_mention_has_the_thread_reply_keys(slack: FakeSlack, data_dir: Path) -> None:
    """A mention in a thread carries thread_ts and parent_user_id like a real thread reply."""
    parent = slack.mention("U1", "C1", "p")["event"]["ts"]
    event = slack.mention("U1", "C1", "r", thread_ts=parent)["event"]
    example = fixture(data_dir, "events.message.channels.thread-reply.json")["event"]
    assert {"thread_ts", "parent_user_id"} & set(example) <= set(event)


def test_direct_message_event_keys(slack: FakeSlack, data_dir: Path) -> None:
    """direct_message()'s event has the keys of a real user message event."""
    event = slack.direct_message("U1", "hi")["event"]
    example = fixture(data_dir, "events.message.channels.json")["event"]
    assert set(event) == set(example)


def test_socket_frames_keys(slack: FakeSlack, data_dir: Path) -> None:
    """hello, events_api envelope and disconnect frames have the SDK mock server's keys."""
    frames: queue.Queue[dict[str, Any]] = queue.Queue()
    client = SocketModeClient(
        app_token=slack.app_token,
        web_client=WebClient(token=slack.bot_token, base_url=slack.api_url),
        auto_reconnect_enabled=False,
    )
    client.on_message_listeners.append(lambda raw: frames.put(json.loads(raw)))
    client.connect()
    try:
        hello = frames.get(timeout=WAIT)
        slack.deliver_socket(slack.mention("U1", "C1", "hi"))
        envelope = frames.get(timeout=WAIT)
        slack.disconnect(reason="too_many_websockets")
        disconnect = frames.get(timeout=WAIT)
    finally:
        client.auto_reconnect_enabled = False
        slack.socket.stop()
        client.close()
    names = ("socket.hello.json", "socket.events_api.app_mention.json")
    assert (set(hello), set(envelope), set(disconnect)) == (
        set(fixture(data_dir, names[0])),
        set(fixture(data_dir, names[1])),
        set(fixture(data_dir, "socket.disconnect.too_many_websockets.json")),
    )
