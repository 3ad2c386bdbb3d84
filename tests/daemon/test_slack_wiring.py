"""The daemon's Slack side: HTTP mode on its port, Socket Mode started and stopped with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from factory.testing.fake_slack import FakeSlack
from tests.daemon.conftest import Factory, Running, run_daemon, wait_for


@pytest.fixture
def slack(factory: Factory) -> Iterator[FakeSlack]:
    """FakeSlack with carol and #bugs; the factory's harness listens in #bugs."""
    policy = factory.settings.harness_dir / "policy.yaml"
    policy.write_text(policy.read_text().replace("  channels: []", "  channels: [C0BUGS001]"))
    with FakeSlack(close_after_disconnect=0.5) as fake:
        fake.add_user("U0CAROL01", "carol")
        fake.add_channel("C0BUGS001", "bugs")
        yield fake


def start(factory: Factory, slack: FakeSlack, **settings: object) -> Running:
    """Run the daemon with the bot token and API url of ``slack`` plus ``settings``."""
    return run_daemon(
        factory,
        webhooks=False,
        slack_bot_token=SecretStr(slack.bot_token),
        slack_api_url=slack.api_url,
        **settings,
    )


def test_signed_mention_to_the_daemon_port_is_stored_and_dispatched(
    factory: Factory, slack: FakeSlack
) -> None:
    """HTTP mode: a signed mention on the daemon's port is stored and the loop dispatches it."""
    running = start(factory, slack, slack_signing_secret=SecretStr(slack.signing_secret))
    try:
        assert running.daemon.http is not None
        url = f"http://127.0.0.1:{running.daemon.http.port}/slack/events"
        body = slack.mention("U0CAROL01", "C0BUGS001", "broken")
        assert slack.deliver_http(url, body).status_code == 200
        with factory.store() as store:
            wait_for(lambda: store.get_event(1).dispatched_at, what="event dispatched")
            assert store.get_event(1).event.dedup_key == f"slack:{body['event_id']}"
    finally:
        running.stop()


def test_without_a_signing_secret_the_route_is_not_mounted(
    factory: Factory, slack: FakeSlack
) -> None:
    """With no signing secret there is no /slack/events: a POST there is not accepted."""
    running = start(factory, slack)
    try:
        assert running.daemon.http is not None
        url = f"http://127.0.0.1:{running.daemon.http.port}/slack/events"
        body = slack.mention("U0CAROL01", "C0BUGS001", "broken")
        assert slack.deliver_http(url, body).status_code == 404
    finally:
        running.stop()


def test_socket_mode_runs_with_the_daemon_and_stops_with_it(
    factory: Factory, slack: FakeSlack
) -> None:
    """With an app token the daemon connects Socket Mode, stores a mention, stops with it."""
    running = start(factory, slack, slack_app_token=SecretStr(slack.app_token))
    stopped = False
    try:
        assert slack.wait_connected()
        envelope = slack.deliver_socket(slack.mention("U0CAROL01", "C0BUGS001", "broken"))
        assert slack.wait_acked(envelope)
        running.stop()
        stopped = True
        with pytest.raises(RuntimeError):
            slack.deliver_socket(slack.mention("U0CAROL01", "C0BUGS001", "late"), timeout=1.0)
        with factory.store() as store:
            assert store.get_event(1).event.kind == "app_mention"
    finally:
        if not stopped:
            running.stop()
