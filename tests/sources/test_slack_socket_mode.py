"""Socket Mode through FakeSlack's WebSocket: ack after commit, re-sends deduplicated."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from factory.sources.slack import SlackSource
from factory.store import RunStore
from factory.testing.fake_slack import FakeSlack
from tests.sources.slack_support import all_events, policy_with, source_for


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A workspace with carol and #bugs."""
    with FakeSlack(close_after_disconnect=0.5) as fake:
        fake.add_user("U0CAROL01", "carol")
        fake.add_channel("C0BUGS001", "bugs")
        yield fake


@pytest.fixture
def source(slack: FakeSlack, store: RunStore) -> Iterator[SlackSource]:
    """A source connected over Socket Mode, listening in #bugs."""
    connected = source_for(slack, store, policy_with(channels=["C0BUGS001"]), signed=False)
    connected.start_socket_mode(slack.app_token)
    assert slack.wait_connected()
    yield connected
    connected.stop()


def test_envelope_is_acked_after_its_event_is_stored(
    slack: FakeSlack, source: SlackSource, store: RunStore
) -> None:
    """A mention over Socket Mode is acked, and by then the event is in the store."""
    envelope = slack.deliver_socket(slack.mention("U0CAROL01", "C0BUGS001", "broken"))
    assert slack.wait_acked(envelope)
    assert [r.event.kind for r in all_events(store)] == ["app_mention"]


def test_resent_envelope_makes_one_event(
    slack: FakeSlack, source: SlackSource, store: RunStore
) -> None:
    """The same envelope sent three times (retry_attempt 0, 1, 2) is stored once."""
    envelope = slack.deliver_socket(slack.mention("U0CAROL01", "C0BUGS001", "broken"))
    slack.wait_acked(envelope)
    for _ in range(2):
        slack.wait_acked(slack.resend(envelope))
    assert len(all_events(store)) == 1


def test_envelope_the_store_cannot_commit_is_not_acked(slack: FakeSlack, store: RunStore) -> None:
    """When the commit fails the envelope stays unacknowledged, so Slack sends it again."""
    readonly = RunStore.open(store.path, readonly=True)
    failing = source_for(slack, readonly, policy_with(channels=["C0BUGS001"]), signed=False)
    failing.start_socket_mode(slack.app_token)
    try:
        assert slack.wait_connected()
        envelope = slack.deliver_socket(slack.mention("U0CAROL01", "C0BUGS001", "broken"))
        assert slack.wait_acked(envelope, timeout=1.0) is False
    finally:
        failing.stop()


def test_source_reconnects_after_a_disconnect(
    slack: FakeSlack, source: SlackSource, store: RunStore
) -> None:
    """After Slack's ``disconnect`` frame the client reconnects and receives again."""
    slack.disconnect("refresh_requested")
    assert slack.wait_connected(2)
    envelope = slack.deliver_socket(slack.mention("U0CAROL01", "C0BUGS001", "after"))
    assert slack.wait_acked(envelope)


def test_stop_closes_the_connection(slack: FakeSlack, store: RunStore) -> None:
    """stop() ends the Socket Mode session: a delivery afterwards finds no client."""
    connected = source_for(slack, store, policy_with(channels=["C0BUGS001"]), signed=False)
    connected.start_socket_mode(slack.app_token)
    assert slack.wait_connected()
    connected.stop()
    time.sleep(0.2)
    with pytest.raises(RuntimeError):
        slack.deliver_socket(slack.mention("U0CAROL01", "C0BUGS001", "late"), timeout=1.0)
