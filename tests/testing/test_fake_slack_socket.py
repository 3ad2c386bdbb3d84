"""FakeSlack's Socket Mode endpoint driven by slack_sdk's own SocketModeClient (builtin)."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.socket_mode.builtin.client import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from factory.testing.fake_slack import FakeSlack

WAIT = 10.0


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A started FakeSlack with alice (U1) and #bugs (C1)."""
    with FakeSlack() as fake:
        fake.add_user("U1", "alice", display_name="Alice")
        fake.add_channel("C1", "bugs")
        yield fake


class App:
    """A Socket Mode app: the real client, acking every request and keeping what it got."""

    def __init__(self, slack: FakeSlack, ack: bool = True) -> None:
        self.requests: queue.Queue[SocketModeRequest] = queue.Queue()
        self.client = SocketModeClient(
            app_token=slack.app_token,
            web_client=WebClient(token=slack.bot_token, base_url=slack.api_url),
            ping_interval=1,
        )
        self.client.socket_mode_request_listeners.append(self._on_request)
        self.ack = ack

    def close(self, slack: FakeSlack) -> None:
        """Close the client; the server drops the socket first so close() does not wait out
        the client's 3 s receive timeout."""
        self.client.default_auto_reconnect_enabled = False
        self.client.auto_reconnect_enabled = False
        slack.socket.stop()
        self.client.close()

    def _on_request(self, client: SocketModeClient, req: SocketModeRequest) -> None:
        self.requests.put(req)
        if self.ack:
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))


@pytest.fixture
def app(slack: FakeSlack) -> Iterator[App]:
    """A connected Socket Mode app (hello received)."""
    running = App(slack)
    running.client.connect()
    assert slack.wait_connected(1, WAIT)
    yield running
    running.close(slack)


def test_connect_receives_hello(slack: FakeSlack) -> None:
    """On connect the client gets a hello frame (after apps.connections.open)."""
    running = App(slack)
    seen: queue.Queue[str] = queue.Queue()
    running.client.on_message_listeners.append(seen.put)
    running.client.connect()
    try:
        hello = json.loads(seen.get(timeout=WAIT))
    finally:
        running.close(slack)
    assert (hello["type"], hello["connection_info"]["app_id"], slack.calls[0][0]) == (
        "hello",
        slack.app_id,
        "apps.connections.open",
    )


def test_envelope_reaches_the_client(slack: FakeSlack, app: App) -> None:
    """deliver_socket's envelope arrives as an events_api request with the event body."""
    body = slack.mention("U1", "C1", "export 500s")
    envelope_id = slack.deliver_socket(body)
    req = app.requests.get(timeout=WAIT)
    assert (req.type, req.envelope_id, req.payload, req.retry_attempt) == (
        "events_api",
        envelope_id,
        body,
        0,
    )


def test_ack_is_recorded(slack: FakeSlack, app: App) -> None:
    """The client's ack of an envelope is recorded under its envelope_id."""
    envelope_id = slack.deliver_socket(slack.mention("U1", "C1", "hi"))
    assert (slack.wait_acked(envelope_id, WAIT), slack.acked(envelope_id)) == (True, True)


def test_unacked_envelope_is_not_acked(slack: FakeSlack) -> None:
    """An envelope the client receives but does not ack stays unacked."""
    running = App(slack, ack=False)
    running.client.connect()
    try:
        envelope_id = slack.deliver_socket(slack.mention("U1", "C1", "hi"))
        running.requests.get(timeout=WAIT)
        acked = slack.wait_acked(envelope_id, 0.5)
    finally:
        running.close(slack)
    assert acked is False


def test_resend_repeats_the_envelope_with_retry_attempt(slack: FakeSlack, app: App) -> None:
    """resend sends the same envelope_id and payload again with retry_attempt 1."""
    body = slack.mention("U1", "C1", "hi")
    envelope_id = slack.deliver_socket(body)
    first = app.requests.get(timeout=WAIT)
    slack.resend(envelope_id)
    again = app.requests.get(timeout=WAIT)
    assert (again.envelope_id, again.payload, first.retry_attempt, again.retry_attempt) == (
        envelope_id,
        body,
        0,
        1,
    )


def test_disconnect_makes_the_client_reconnect(slack: FakeSlack, app: App) -> None:
    """After a disconnect frame the client opens a new connection and gets hello again."""
    slack.disconnect(reason="refresh_requested")
    reconnected = slack.wait_connected(2, WAIT)
    opens = [m for m, _ in slack.calls if m == "apps.connections.open"]
    assert (reconnected, len(opens)) == (True, 2)


def test_delivery_after_reconnect_reaches_the_new_connection(slack: FakeSlack, app: App) -> None:
    """An envelope sent after a disconnect and reconnect is received and acked."""
    slack.disconnect(reason="refresh_requested")
    assert slack.wait_connected(2, WAIT)
    envelope_id = slack.deliver_socket(slack.mention("U1", "C1", "after"))
    assert (app.requests.get(timeout=WAIT).envelope_id, slack.wait_acked(envelope_id, WAIT)) == (
        envelope_id,
        True,
    )


def test_deliver_without_client_raises(slack: FakeSlack) -> None:
    """deliver_socket with no connected client raises instead of dropping the event."""
    with pytest.raises(RuntimeError):
        slack.deliver_socket(slack.mention("U1", "C1", "hi"), timeout=0.2)


def test_ticket_is_single_use(slack: FakeSlack) -> None:
    """A connection URL from apps.connections.open opens one connection; reuse gets 401."""
    url = str(
        WebClient(base_url=slack.api_url).apps_connections_open(app_token=slack.app_token)["url"]
    )
    with connect(url) as first:
        hello = json.loads(first.recv(timeout=WAIT))
        with pytest.raises(InvalidStatus) as err:
            connect(url)
    assert (hello["type"], err.value.response.status_code) == ("hello", 401)
