"""The daemon's Sentry side, built from Settings: the webhook route, the client, the poller.

``SENTRY_CLIENT_SECRET`` mounts ``POST /webhooks/sentry`` (deliveries of an internal
integration, signed with that secret). ``SENTRY_AUTH_TOKEN`` with ``SENTRY_ORG`` makes the
REST client and, unless ``FACTORY_POLL_INTERVAL`` is 0, a poller of the unresolved issues
of ``SENTRY_PROJECT`` (every project of the organization when unset) — for hosts Sentry
cannot reach and for missed deliveries; both paths may be on, their dedup keys agree.
``SENTRY_API_URL`` points the client at FakeSentry in tests and the demo.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.routing import BaseRoute

from factory.config.harness import Policy
from factory.daemon.runenv import GitHubSide
from factory.daemon.sentry_loop import SentryLoop
from factory.sentry.client import SentryClient
from factory.settings import Settings
from factory.sources.sentry_http import sentry_webhook_route
from factory.sources.sentry_poller import SentryPoller
from factory.store import RunStore
from factory.store.event_log import EventLog

POLL_STATE_FILE = "sentry-poll-state.json"
"""The poller's cursor and last sight of each issue, in the data directory."""


def sentry_routes(
    settings: Settings, store: EventLog, on_stored: Callable[[], None]
) -> list[BaseRoute]:
    """Return ``POST /webhooks/sentry`` when a client secret is set, else []."""
    if settings.sentry_client_secret is None:
        return []
    return [sentry_webhook_route(store, settings.sentry_client_secret, on_stored=on_stored)]


def sentry_client(settings: Settings) -> SentryClient | None:
    """Return the REST client when an auth token and an organization are set, else None."""
    token, org = settings.sentry_auth_token, settings.sentry_org
    if token is None or not token.get_secret_value() or not org:
        return None
    return SentryClient(settings.sentry_api_url, token.get_secret_value(), org)


def sentry_poller(
    settings: Settings, store: EventLog, data_dir: Path, on_stored: Callable[[], None]
) -> SentryPoller | None:
    """Return the poller when the client can be made and polling is on, else None."""
    client = sentry_client(settings)
    if client is None or settings.poll_interval_s <= 0:
        return None
    return SentryPoller(
        client,
        store,
        data_dir / POLL_STATE_FILE,
        project=settings.sentry_project,
        every_s=settings.poll_interval_s,
        on_stored=on_stored,
    )


def sentry_loop(
    settings: Settings,
    store: RunStore,
    github: GitHubSide,
    client: SentryClient | None,
    policy: Callable[[], Policy],
) -> SentryLoop:
    """Return the daemon's loop closing with Sentry over ``client`` (None: no Sentry side;
    the loop then records no resolution)."""
    return SentryLoop(
        store,
        github.repo,
        client,
        policy,
        secrets=tuple(settings.secret_values()),
        bot_login=github.bot_login,
    )
