"""The daemon's Sentry side: the webhook route on its port, the poller thread, both off
without their settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from factory.errors import StoreError
from factory.store import RunStore
from factory.testing.fake_sentry import FakeSentry
from tests.daemon.conftest import Factory, Running, run_daemon, wait_for


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    """A running FakeSentry."""
    with FakeSentry() as fake:
        yield fake


def url_of(running: Running) -> str:
    """Return the daemon's Sentry webhook URL."""
    assert running.daemon.http is not None
    return f"http://127.0.0.1:{running.daemon.http.port}/webhooks/sentry"


def test_signed_delivery_to_the_daemon_port_is_stored_and_dispatched(
    factory: Factory, sentry: FakeSentry
) -> None:
    """With a client secret, a signed issue.created on the daemon's port is stored and the
    loop dispatches it."""
    running = run_daemon(
        factory, webhooks=False, sentry_client_secret=SecretStr(sentry.client_secret)
    )
    try:
        issue_id = sentry.add_issue()
        body = sentry.webhook_body("issue", "created", issue_id)
        assert sentry.deliver(url_of(running), "issue", body).status_code == 202
        with factory.store() as store:
            wait_for(lambda: store.get_event(1).dispatched_at, what="event dispatched")
            assert store.get_event(1).event.dedup_key == f"sentry:issue:{issue_id}:created"
    finally:
        running.stop()


def test_without_a_client_secret_the_route_is_not_mounted(
    factory: Factory, sentry: FakeSentry
) -> None:
    """With no client secret there is no /webhooks/sentry: a delivery there is not accepted."""
    running = run_daemon(factory, webhooks=False)
    try:
        body = sentry.webhook_body("issue", "created", sentry.add_issue())
        assert sentry.deliver(url_of(running), "issue", body).status_code == 404
    finally:
        running.stop()


def test_poller_runs_with_a_token_and_an_org(factory: Factory, sentry: FakeSentry) -> None:
    """With a token and an org the daemon polls FakeSentry and stores the new issue."""
    issue_id = sentry.add_issue()
    running = run_daemon(
        factory,
        webhooks=False,
        sentry_auth_token=SecretStr(sentry.token),
        sentry_org=sentry.org,
        sentry_project=sentry.project,
        sentry_api_url=sentry.api_url,
        poll_interval_s=0.2,
    )
    try:
        with factory.store() as store:
            keys = wait_for(lambda: _sentry_keys(store), what="polled event stored")
            assert keys == [f"sentry:issue:{issue_id}:created"]
    finally:
        running.stop()


def _sentry_keys(store: RunStore) -> list[str]:
    """Return the dedup keys of the stored Sentry events (GitHub's poller runs too)."""
    keys: list[str] = []
    for event_id in range(1, 1000):
        try:
            event = store.get_event(event_id).event
        except StoreError:
            return keys
        if event.source == "sentry":
            keys.append(event.dedup_key)
    return keys
