"""SentryPoller against FakeSentry: new, changed and regressed issues as Events, the state
file, pagination, and the dedup keys it shares with the webhook."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.routing import Route

from factory.errors import SentryError
from factory.events import utcnow
from factory.sentry.client import SentryClient
from factory.sources.sentry_http import sentry_webhook_route
from factory.sources.sentry_poller import SentryPoller
from factory.store import RunStore
from factory.testing.fake_sentry import FakeSentry
from tests.sources.slack_support import all_events

Served = Callable[[Route], httpx.Client]


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    """A running FakeSentry."""
    with FakeSentry() as fake:
        yield fake


def poller_for(sentry: FakeSentry, store: RunStore, tmp_path: Path, **kwargs: int) -> SentryPoller:
    """Return a poller of FakeSentry's project with its state in tmp_path."""
    client = SentryClient(sentry.api_url, sentry.token, sentry.org, sleep=lambda _: None)
    return SentryPoller(
        client, store, tmp_path / "sentry-poll.json", project=sentry.project, **kwargs
    )


def kinds(store: RunStore) -> list[str]:
    """Return the kinds of every stored event, oldest first."""
    return [record.event.kind for record in all_events(store)]


def test_new_issue_is_one_created_event(
    sentry: FakeSentry, store: RunStore, tmp_path: Path
) -> None:
    """An unresolved issue the poller never saw becomes sentry.issue.created with the shared
    key."""
    issue_id = sentry.add_issue()
    poller_for(sentry, store, tmp_path).poll_once()
    event = all_events(store)[0].event
    assert (event.kind, event.dedup_key, event.trust, event.subject_key) == (
        "sentry.issue.created",
        f"sentry:issue:{issue_id}:created",
        "data",
        f"sentry:{issue_id}",
    )


def test_a_warning_is_polled_too(sentry: FakeSentry, store: RunStore, tmp_path: Path) -> None:
    """A warning-level issue is polled like an error, its level in the payload."""
    sentry.add_issue(title="DeprecationWarning: old API", level="warning")
    poller_for(sentry, store, tmp_path).poll_once()
    assert all_events(store)[0].event.payload["level"] == "warning"


def test_polled_payload_carries_counts_as_ints(
    sentry: FakeSentry, store: RunStore, tmp_path: Path
) -> None:
    """The payload has the issue's count and user count as ints and its project slug."""
    issue_id = sentry.add_issue()
    sentry.add_events(issue_id, n=4, users=2)
    poller_for(sentry, store, tmp_path).poll_once()
    payload = all_events(store)[0].event.payload
    assert (payload["count"], payload["user_count"], payload["project"]) == (5, 3, "web")


def test_second_poll_without_change_stores_nothing(
    sentry: FakeSentry, store: RunStore, tmp_path: Path
) -> None:
    """Polling again when nothing happened stores no event."""
    sentry.add_issue()
    poller = poller_for(sentry, store, tmp_path)
    poller.poll_once()
    assert poller.poll_once() == []


def test_more_events_make_one_seen_event_with_the_previous_sight(
    sentry: FakeSentry, store: RunStore, tmp_path: Path
) -> None:
    """50 further events of a known issue become one sentry.issue.seen carrying the count
    before."""
    issue_id = sentry.add_issue()
    poller = poller_for(sentry, store, tmp_path)
    poller.poll_once()
    sentry.add_events(issue_id, n=50)
    poller.poll_once()
    seen = all_events(store)[1].event
    assert (kinds(store), seen.payload["count"], seen.payload["previous"]["count"]) == (
        ["sentry.issue.created", "sentry.issue.seen"],
        51,
        1,
    )


def test_regression_is_an_unresolved_event(
    sentry: FakeSentry, store: RunStore, tmp_path: Path
) -> None:
    """A known issue resolved and then regressed becomes sentry.issue.unresolved."""
    issue_id = sentry.add_issue()
    poller = poller_for(sentry, store, tmp_path)
    poller.poll_once()
    sentry.resolve(issue_id)
    sentry.regress(issue_id)
    poller.poll_once()
    assert kinds(store) == ["sentry.issue.created", "sentry.issue.unresolved"]


def test_regression_key_is_shared_with_the_webhook(
    sentry: FakeSentry, store: RunStore, tmp_path: Path
) -> None:
    """The polled regression has the key an issue.unresolved webhook of that moment gets."""
    issue_id = sentry.add_issue()
    poller = poller_for(sentry, store, tmp_path)
    poller.poll_once()
    sentry.resolve(issue_id)
    sentry.regress(issue_id)
    poller.poll_once()
    last_seen = sentry.webhook_body("issue", "unresolved", issue_id)["data"]["issue"]["lastSeen"]
    expected = f"sentry:issue:{issue_id}:unresolved:{last_seen}"
    assert all_events(store)[1].event.dedup_key == expected


def test_resolved_issue_is_not_polled(sentry: FakeSentry, store: RunStore, tmp_path: Path) -> None:
    """Only unresolved issues are listed: a resolved one stores nothing."""
    sentry.resolve(sentry.add_issue())
    poller_for(sentry, store, tmp_path).poll_once()
    assert kinds(store) == []


def test_every_page_is_read(sentry: FakeSentry, store: RunStore, tmp_path: Path) -> None:
    """More issues than one page holds (Link cursor) all become events."""
    for n in range(120):
        sentry.add_issue(title=f"E{n}: boom")
    poller_for(sentry, store, tmp_path).poll_once()
    assert len(all_events(store)) == 120


def test_state_survives_a_new_poller(sentry: FakeSentry, store: RunStore, tmp_path: Path) -> None:
    """A restarted poller reads the state file: a known issue is not created again, and its
    change is seen against what the first poller saw."""
    issue_id = sentry.add_issue()
    poller_for(sentry, store, tmp_path).poll_once()
    sentry.add_events(issue_id, n=2)
    poller_for(sentry, store, tmp_path).poll_once()
    assert kinds(store) == ["sentry.issue.created", "sentry.issue.seen"]


def test_cursor_is_the_newest_last_seen(
    sentry: FakeSentry, store: RunStore, tmp_path: Path
) -> None:
    """The state's cursor is Sentry's lastSeen of the newest issue polled."""
    issue_id = sentry.add_issue()
    poller_for(sentry, store, tmp_path).poll_once()
    state = json.loads((tmp_path / "sentry-poll.json").read_text())
    last_seen = sentry.issue_state(issue_id)["lastSeen"].replace("Z", "+00:00")
    assert state["cursor"] == last_seen


def test_first_poll_looks_back_only_the_lookback(
    sentry: FakeSentry, store: RunStore, tmp_path: Path
) -> None:
    """An issue last seen before the lookback window is not polled the first time."""
    sentry.add_issue(at=utcnow() - timedelta(days=3))
    poller_for(sentry, store, tmp_path).poll_once()
    assert kinds(store) == []


def test_failed_poll_keeps_the_state(sentry: FakeSentry, store: RunStore, tmp_path: Path) -> None:
    """A poll refused by Sentry raises and writes no state file."""
    sentry.add_issue()
    sentry.rate_limit_next(f"organizations/{sentry.org}/issues/", retry_after=600)
    with pytest.raises(SentryError):
        poller_for(sentry, store, tmp_path).poll_once()
    assert (tmp_path / "sentry-poll.json").exists() is False


def test_poll_asks_for_unresolved_issues_since_the_cursor_with_a_bearer_token(
    sentry: FakeSentry, store: RunStore, tmp_path: Path
) -> None:
    """The listing query is is:unresolved, lastSeen since the window, and the project."""
    poller_for(sentry, store, tmp_path).poll_once(now=utcnow())
    method, path, query = sentry.calls[-1]
    words = query["query"][0].split()
    assert (method, path, words[0], words[1].startswith("lastSeen:>="), words[2]) == (
        "GET",
        f"/api/0/organizations/{sentry.org}/issues/",
        "is:unresolved",
        True,
        "project:web",
    )


def test_on_stored_is_called_after_new_events(
    sentry: FakeSentry, store: RunStore, tmp_path: Path
) -> None:
    """on_stored runs once after a poll that stored events, not after an empty one."""
    calls: list[int] = []
    sentry.add_issue()
    client = SentryClient(sentry.api_url, sentry.token, sentry.org)
    poller = SentryPoller(
        client, store, tmp_path / "s.json", project="web", on_stored=lambda: calls.append(1)
    )
    poller.poll_once()
    poller.poll_once()
    assert calls == [1]


def test_bad_intervals_are_refused(sentry: FakeSentry, store: RunStore, tmp_path: Path) -> None:
    """A non-positive interval cannot build a poller."""
    with pytest.raises(ValueError, match="every_s must be positive"):
        poller_for(sentry, store, tmp_path, every_s=0)


def test_second_regression_is_a_second_unresolved_event(
    sentry: FakeSentry, store: RunStore, tmp_path: Path
) -> None:
    """Regressed, resolved unseen by the poller, regressed again: two unresolved events."""
    issue_id = sentry.add_issue()
    poller = poller_for(sentry, store, tmp_path)
    poller.poll_once()
    for _ in range(2):
        sentry.resolve(issue_id)
        sentry.regress(issue_id)
        poller.poll_once()
    assert kinds(store).count("sentry.issue.unresolved") == 2


def test_more_events_of_a_regressed_issue_are_seen_not_a_new_regression(
    sentry: FakeSentry, store: RunStore, tmp_path: Path
) -> None:
    """Further events after one regression make a seen event, not a second unresolved."""
    issue_id = sentry.add_issue()
    poller = poller_for(sentry, store, tmp_path)
    poller.poll_once()
    sentry.resolve(issue_id)
    sentry.regress(issue_id)
    poller.poll_once()
    sentry.add_events(issue_id, n=3)
    poller.poll_once()
    assert kinds(store) == ["sentry.issue.created", "sentry.issue.unresolved", "sentry.issue.seen"]


def test_unresolved_webhook_then_poll_after_more_events_is_one_regression(
    sentry: FakeSentry, store: RunStore, tmp_path: Path, served: Served
) -> None:
    """The issue.unresolved delivery sent on the regressing event, then a poll after three
    more events: one unresolved event (the poll keys on the regression's time)."""
    client = served(sentry_webhook_route(store, SecretStr(sentry.client_secret)))
    issue_id = sentry.add_issue()
    poller = poller_for(sentry, store, tmp_path)
    poller.poll_once()
    sentry.resolve(issue_id)
    sentry.regress(issue_id)
    body = sentry.webhook_body("issue", "unresolved", issue_id)
    sentry.deliver(f"{client.base_url}/webhooks/sentry", "issue", body)
    sentry.add_events(issue_id, n=3)
    poller.poll_once()
    assert kinds(store).count("sentry.issue.unresolved") == 1
