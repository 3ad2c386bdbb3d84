"""The daemon's Slack side, built from Settings: the source, its HTTP route, Socket Mode.

Slack is on when ``SLACK_BOT_TOKEN`` is set. ``SLACK_APP_TOKEN`` (xapp-…) starts Socket
Mode (no public URL needed); ``SLACK_SIGNING_SECRET`` mounts ``POST /slack/events`` for
HTTP mode (both may be on: Slack sends each event one way). ``SLACK_API_URL`` points the
client at FakeSlack in tests and the demo.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute

from factory.config.harness import Policy
from factory.settings import Settings
from factory.slack.client import web_client
from factory.sources.slack import SlackSource
from factory.sources.slack_http import slack_events_route
from factory.store.event_log import EventLog


def slack_source(
    settings: Settings,
    store: EventLog,
    policy: Callable[[], Policy],
    on_stored: Callable[[], None],
) -> SlackSource | None:
    """Return the Slack source, or None when no bot token is set.

    Calls ``auth.test`` (the bot's own ids); raises slack_bolt.BoltError when Slack refuses
    the token, what slack_sdk raises when Slack is unreachable.
    """
    if settings.slack_bot_token is None:
        return None
    secret = settings.slack_signing_secret
    return SlackSource(
        store,
        web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url),
        policy,
        signing_secret=secret.get_secret_value() if secret is not None else None,
        on_stored=on_stored,
    )


def slack_routes(source: SlackSource | None, settings: Settings) -> list[BaseRoute]:
    """Return ``POST /slack/events`` when there is a source and a signing secret, else []."""
    if source is None or settings.slack_signing_secret is None:
        return []
    return [slack_events_route(source, settings.slack_signing_secret)]


def start_socket_mode(source: SlackSource | None, settings: Settings) -> None:
    """Connect Socket Mode when there is a source and an app token; raises as
    ``SlackSource.start_socket_mode`` does."""
    if source is not None and settings.slack_app_token is not None:
        source.start_socket_mode(settings.slack_app_token.get_secret_value())
