"""The daemon's Slack side, built from Settings: the source, its HTTP route, Socket Mode.

Slack is on when ``SLACK_BOT_TOKEN`` is set. ``SLACK_APP_TOKEN`` (xapp-…) starts Socket
Mode (no public URL needed); ``SLACK_SIGNING_SECRET`` mounts ``POST /slack/events`` for
HTTP mode (both may be on: Slack sends each event one way). ``SLACK_API_URL`` points the
client at FakeSlack in tests and the demo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from github.Repository import Repository
from slack_sdk import WebClient
from starlette.routing import BaseRoute

from factory.config.harness import Policy
from factory.daemon.followup import Followup
from factory.events import Event, Trust
from factory.forge.slack_outputs import run_slack_side
from factory.settings import Settings
from factory.slack.client import web_client
from factory.slack.messages import SlackSide
from factory.slack.trust import UsergroupMembers, slack_trust
from factory.sources.slack import SlackSource
from factory.sources.slack_http import slack_events_route
from factory.store import RunStore
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


@dataclass(frozen=True)
class SlackRuns:
    """What runs and follow-ups need of Slack: the bot's client and ids, the group lookup."""

    client: WebClient
    bot_user_id: str | None
    bot_id: str | None
    members: UsergroupMembers

    def side(
        self,
        store: RunStore,
        subject_key: str | None,
        event: Event | None,
        channel: str | None = None,
    ) -> SlackSide:
        """Return a run's Slack side: its thread (the subject's, or the one lineage links to
        its issue or PR), the triggering message when a Slack event started the run, and the
        automation's ``slack_channel``."""
        ts = event.payload.get("ts") if event is not None and event.source == "slack" else None
        return run_slack_side(
            store,
            self.client,
            subject_key,
            trigger_ts=str(ts) if ts else None,
            bot_id=self.bot_id,
            channel=channel,
        )

    def trust_of(self, policy: Policy) -> Callable[[str], Trust]:
        """Return the trust of a Slack user under ``policy`` (what ``slack_read`` labels)."""
        return lambda user: slack_trust(policy, user, self.members)

    def followup(
        self, store: RunStore, repo: Repository | None, policy: Policy, secrets: tuple[str, ...]
    ) -> Followup:
        """Return the daemon's thread follow-up over this client."""
        return Followup(
            store,
            self.client,
            repo,
            bot_user_id=self.bot_user_id,
            bot_id=self.bot_id,
            needs_human=policy.labels.needs_human,
            secrets=secrets,
        )


def slack_runs(source: SlackSource | None) -> SlackRuns | None:
    """Return what runs need of Slack from the source (None without one); asks Slack who the
    bot is (``auth.test``), raising what slack_sdk raises when it cannot."""
    if source is None:
        return None
    client = source.app.client
    me = client.auth_test()
    return SlackRuns(client, me.get("user_id"), me.get("bot_id"), source.members)


def slack_parts(
    settings: Settings,
    store: RunStore,
    policy: Callable[[], Policy],
    on_stored: Callable[[], None],
    repo: Repository | None,
) -> tuple[SlackSource | None, SlackRuns | None, Followup | None]:
    """Return the Slack source, what runs need of Slack, and the thread follow-up — all None
    when no bot token is set. Raises what ``slack_source`` and ``slack_runs`` raise."""
    source = slack_source(settings, store, policy, on_stored)
    runs = slack_runs(source)
    if runs is None:
        return source, None, None
    secrets = tuple(settings.secret_values())
    return source, runs, runs.followup(store, repo, policy(), secrets)
