"""Helpers of the Slack source tests: a policy with a slack section, every stored event."""

from __future__ import annotations

from pathlib import Path

from factory.config.harness import Policy, load_harness
from factory.config.slack_policy import SlackPolicy
from factory.errors import StoreError
from factory.slack.client import web_client
from factory.sources.slack import SlackSource
from factory.store import RunStore
from factory.store.records import EventRecord
from factory.testing.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
SLACK_DATA = ROOT / "tests" / "data" / "slack"


def policy_with(**slack: list[str] | bool) -> Policy:
    """Return the shipped policy with its ``slack:`` section set to ``slack``."""
    shipped = load_harness(ROOT / "harness").policy
    return shipped.model_copy(update={"slack": SlackPolicy.model_validate(slack)})


def all_events(store: RunStore) -> list[EventRecord]:
    """Return every stored event, ignored ones included, oldest first."""
    found: list[EventRecord] = []
    while True:
        try:
            found.append(store.get_event(len(found) + 1))
        except StoreError:
            return found


def source_for(
    slack: FakeSlack, store: RunStore, policy: Policy, *, signed: bool = True
) -> SlackSource:
    """Return a SlackSource on ``slack`` storing into ``store`` under ``policy``."""
    return SlackSource(
        store,
        web_client(slack.bot_token, slack.api_url),
        lambda: policy,
        signing_secret=slack.signing_secret if signed else None,
    )
