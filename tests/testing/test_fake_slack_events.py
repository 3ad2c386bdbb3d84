"""FakeSlack's event bodies (mention, direct_message) and their signed HTTP delivery."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from factory.testing.fake_slack import FakeSlack


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


class Receiver:
    """A local Events API Request URL that answers 200 and keeps each request."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.append(({k.lower(): v for k, v in self.headers.items()}, raw))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running Receiver."""
    running = Receiver()
    yield running
    running.close()


def test_mention_body_is_an_app_mention_callback(slack: FakeSlack) -> None:
    """mention() answers an event_callback whose event is the user's app_mention."""
    body = slack.mention("U1", "C1", "the export button 500s")
    event = body["event"]
    assert (
        body["type"],
        body["team_id"],
        body["api_app_id"],
        body["event_id"][:2],
        event["type"],
        event["user"],
        event["channel"],
        event["text"],
        event["ts"] == event["event_ts"],
        "thread_ts" in event,
    ) == (
        "event_callback",
        slack.team_id,
        slack.app_id,
        "Ev",
        "app_mention",
        "U1",
        "C1",
        f"<@{slack.bot_user_id}> the export button 500s",
        True,
        False,
    )


def test_mention_in_a_thread_names_the_parent(slack: FakeSlack) -> None:
    """A mention inside a thread carries thread_ts = the parent's ts."""
    parent = slack.mention("U1", "C1", "first")["event"]["ts"]
    event = slack.mention("U1", "C1", "again", thread_ts=parent)["event"]
    assert (event["thread_ts"], event["ts"] != parent) == (parent, True)


def test_mention_is_posted_in_the_channel(slack: FakeSlack, web: WebClient) -> None:
    """The mentioned message is readable through conversations.replies."""
    ts = slack.mention("U1", "C1", "hello")["event"]["ts"]
    got = web.conversations_replies(channel="C1", ts=ts)["messages"]
    assert [(m["user"], m["ts"]) for m in got] == [("U1", ts)]


def test_event_ids_are_unique(slack: FakeSlack) -> None:
    """Every mention gets its own event_id."""
    ids = {slack.mention("U1", "C1", f"m{i}")["event_id"] for i in range(5)}
    assert len(ids) == 5


def test_mention_with_files_lists_them(slack: FakeSlack, web: WebClient) -> None:
    """A mention with files carries their id, name and mimetype, and shares them in the channel."""
    file_id = slack.add_file("shot.png", b"png", "image/png", user="U1")
    event = slack.mention("U1", "C1", "see", files=[file_id])["event"]
    shown = [(f["id"], f["name"], f["mimetype"]) for f in event["files"]]
    shared = web.files_info(file=file_id)["file"]["channels"]
    assert (shown, shared) == ([(file_id, "shot.png", "image/png")], ["C1"])


def test_mention_by_unknown_user_is_refused(slack: FakeSlack) -> None:
    """mention() by a user never added raises ValueError."""
    with pytest.raises(ValueError, match="unknown user"):
        slack.mention("U404", "C1", "hi")


def test_direct_message_is_message_im(slack: FakeSlack) -> None:
    """direct_message() answers a message event in the bot's DM channel (channel_type im)."""
    event = slack.direct_message("U1", "help me")["event"]
    assert (event["type"], event["channel_type"], event["channel"][0], event["text"]) == (
        "message",
        "im",
        "D",
        "help me",
    )


def test_bot_can_answer_in_the_dm_thread(slack: FakeSlack, web: WebClient) -> None:
    """The bot's reply in the DM channel lands in that DM's thread."""
    event = slack.direct_message("U1", "help me")["event"]
    web.chat_postMessage(channel=event["channel"], text="sure", thread_ts=event["ts"])
    assert [m["text"] for m in slack.thread(event["channel"], event["ts"])] == ["help me", "sure"]


def test_sign_is_accepted_by_slack_sdk(slack: FakeSlack) -> None:
    """sign()'s headers pass slack_sdk's SignatureVerifier for the same body."""
    raw = json.dumps(slack.mention("U1", "C1", "hi")).encode()
    headers = slack.sign(raw)
    verifier = SignatureVerifier(slack.signing_secret)
    assert verifier.is_valid_request(raw, headers) is True


def test_signature_does_not_cover_a_changed_body(slack: FakeSlack) -> None:
    """A body changed after signing fails slack_sdk's verification."""
    raw = json.dumps(slack.mention("U1", "C1", "hi")).encode()
    headers = slack.sign(raw)
    verifier = SignatureVerifier(slack.signing_secret)
    assert verifier.is_valid_request(raw.replace(b"hi", b"ho"), headers) is False


def test_deliver_http_posts_a_verifiable_body(slack: FakeSlack, receiver: Receiver) -> None:
    """deliver_http POSTs the JSON body with headers SignatureVerifier accepts."""
    body = slack.mention("U1", "C1", "hi")
    answer = slack.deliver_http(receiver.url, body)
    ((headers, raw),) = receiver.got
    verified = SignatureVerifier(slack.signing_secret).is_valid_request(raw, headers)
    assert (answer.status_code, json.loads(raw), verified, headers["content-type"]) == (
        200,
        body,
        True,
        "application/json",
    )


def test_deliver_http_retry_carries_retry_headers(slack: FakeSlack, receiver: Receiver) -> None:
    """A retry delivery carries X-Slack-Retry-Num and X-Slack-Retry-Reason; a first one does not."""
    body = slack.mention("U1", "C1", "hi")
    slack.deliver_http(receiver.url, body)
    slack.deliver_http(receiver.url, body, retry_num=2)
    (first, _), (retry, _) = receiver.got
    assert (
        "x-slack-retry-num" in first,
        retry["x-slack-retry-num"],
        retry["x-slack-retry-reason"],
    ) == (False, "2", "http_timeout")


def test_deliver_http_old_timestamp_is_rejected_by_verifier(
    slack: FakeSlack, receiver: Receiver
) -> None:
    """A delivery signed with an old timestamp is refused by SignatureVerifier (replay window)."""
    slack.deliver_http(receiver.url, slack.mention("U1", "C1", "hi"), timestamp=1_000_000)
    ((headers, raw),) = receiver.got
    verifier = SignatureVerifier(slack.signing_secret)
    assert (headers["x-slack-request-timestamp"], verifier.is_valid_request(raw, headers)) == (
        "1000000",
        False,
    )
