"""The poller against FakeGitHub: same events as the webhook, one event whichever path is first."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from github import Auth, Github
from pydantic import SecretStr
from starlette.routing import Route

from factory.config.harness import TrustPolicy
from factory.forge.trust import PermissionTrust, label_applier
from factory.sources.github_poller import GitHubPoller, PollCursor
from factory.sources.github_webhooks import github_webhook_route
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub

REPO = "acme/widgets"
SECRET = "It's a Secret to Everybody"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    """A FakeGitHub with one repo, a maintainer (alice), a reader (bob) and the factory bot."""
    with FakeGitHub() as server:
        server.create_repo(REPO)
        server.add_user("alice", token="t-alice", permission="admin")
        server.add_user("bob", token="t-bob", permission="read")
        server.add_user("factory-bot", token="t-bot", permission="write")
        yield server


@pytest.fixture
def gh_repo(fake: FakeGitHub) -> Any:
    """The PyGithub Repository of REPO, as the factory bot sees it."""
    gh = Github(
        base_url=fake.api_url,
        auth=Auth.Token("t-bot"),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    return gh.get_repo(REPO)


@pytest.fixture
def make_poller(gh_repo: Any, store: RunStore, tmp_path: Path) -> Callable[..., GitHubPoller]:
    """Return a factory of pollers on REPO with a shared cursor file and real trust lookups."""

    def make(**kw: Any) -> GitHubPoller:
        kw.setdefault("trust_resolver", PermissionTrust(gh_repo, TrustPolicy()))
        return GitHubPoller(gh_repo, store, tmp_path / "poll-cursor.json", **kw)

    return make


@pytest.fixture
def webhook(store: RunStore, served: Callable[[Route], httpx.Client]) -> httpx.Client:
    """A real server running the webhook route into the same store."""
    return served(github_webhook_route(store, SecretStr(SECRET)))


def deliver(client: httpx.Client, event: str, payload: dict[str, Any], sign: Any) -> Any:
    """POST one signed delivery with a fresh delivery id; returns the JSON reply."""
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body),
    }
    reply = client.post("/webhooks/github", content=body, headers=headers)
    assert reply.status_code == 202, reply.text
    return reply.json()


def kinds(store: RunStore) -> list[str]:
    """Return the kinds of all stored events, in storing order."""
    return [r.event.kind for r in store.undispatched_events(limit=10_000)]


def busy_history(fake: FakeGitHub) -> None:
    """Open an issue and a PR and label, unlabel, close and reopen them."""
    fake.create_issue(REPO, "Add a widget", as_user="bob")
    fake.add_labels(REPO, 1, "factory:ready", as_user="alice")
    fake.remove_label(REPO, 1, "factory:ready", as_user="alice")
    fake.close_issue(REPO, 1, as_user="alice")
    fake.commit_files(REPO, "feature", {"w.txt": "w\n"})
    fake.create_pull(REPO, "feature", "Widget", as_user="factory-bot")
    fake.add_labels(REPO, 2, "factory:review", as_user="factory-bot")


def test_labeled_issue_becomes_issues_labeled_from_the_labeler(
    fake: FakeGitHub, make_poller: Callable[..., GitHubPoller], store: RunStore
) -> None:
    """A label applied by a maintainer to a reader's issue is stored with the maintainer's trust."""
    fake.create_issue(REPO, "Add a widget", as_user="bob")
    fake.add_labels(REPO, 1, "factory:ready", as_user="alice")
    make_poller().poll_once()
    labeled = [r.event for r in store.undispatched_events() if r.event.kind == "issues.labeled"]
    got = [(e.actor, e.trust, e.payload["label"]["name"], e.subject_key) for e in labeled]
    assert got == [("alice", "maintainers", "factory:ready", "issue:1")]


def test_poller_stores_the_kinds_the_webhook_would(
    fake: FakeGitHub, make_poller: Callable[..., GitHubPoller], store: RunStore
) -> None:
    """Opened, labeled, unlabeled and closed on issues and PRs get the webhook's kinds."""
    busy_history(fake)
    make_poller().poll_once()
    assert sorted(kinds(store)) == sorted(
        [
            "issues.opened",
            "issues.labeled",
            "issues.unlabeled",
            "issues.closed",
            "pull_request.opened",
            "pull_request.labeled",
        ]
    )


def test_second_poll_stores_nothing_new(
    fake: FakeGitHub, make_poller: Callable[..., GitHubPoller]
) -> None:
    """Polling again with no new changes stores no event."""
    busy_history(fake)
    poller = make_poller()
    poller.poll_once()
    assert poller.poll_once() == []


def test_reopened_issue_after_a_poll_is_stored(
    fake: FakeGitHub, make_poller: Callable[..., GitHubPoller], store: RunStore, gh_repo: Any
) -> None:
    """A change made after a poll is found by the next one."""
    fake.create_issue(REPO, "Add a widget", as_user="bob")
    fake.close_issue(REPO, 1, as_user="alice")
    poller = make_poller()
    poller.poll_once()
    gh_repo.get_issue(1).edit(state="open")
    new = poller.poll_once()
    assert [store.get_event(i).event.kind for i in new] == ["issues.reopened"]


def test_factory_bot_changes_are_marked_by_factory(
    fake: FakeGitHub, make_poller: Callable[..., GitHubPoller], store: RunStore
) -> None:
    """Changes made by one of the factory's logins are stored with ``by_factory``."""
    fake.create_issue(REPO, "Add a widget", as_user="bob")
    fake.add_labels(REPO, 1, "factory:blocked", as_user="factory-bot")
    make_poller(bot_logins=["Factory-Bot"]).poll_once()
    marks = {r.event.kind: r.event.by_factory for r in store.undispatched_events()}
    assert marks == {"issues.opened": False, "issues.labeled": True}


def test_cursor_survives_a_restart(
    fake: FakeGitHub, make_poller: Callable[..., GitHubPoller], tmp_path: Path
) -> None:
    """A new poller on the same cursor file asks only for issues updated since the cursor."""
    busy_history(fake)
    make_poller().poll_once()
    saved = PollCursor(tmp_path / "poll-cursor.json").get(REPO)
    make_poller(overlap=timedelta(0), lookback=timedelta(days=30)).poll_once()
    listings = [p for m, p, _ in fake.request_log if m == "GET" and "/issues?" in p]
    since = parse_qs(urlsplit(listings[-1]).query)["since"][0]
    assert (since, saved) == (
        fake.issue(REPO, 2).updated_at,
        datetime.fromisoformat(fake.issue(REPO, 2).updated_at.replace("Z", "+00:00")),
    )


def test_first_poll_ignores_changes_before_the_lookback(
    fake: FakeGitHub, make_poller: Callable[..., GitHubPoller], store: RunStore
) -> None:
    """With no cursor yet, changes older than the lookback window are not stored."""
    fake.create_issue(REPO, "Old news", as_user="bob")
    make_poller().poll_once(now=datetime.now(UTC) + timedelta(days=2))
    assert kinds(store) == []


def test_cursor_file_round_trips_per_repository(tmp_path: Path) -> None:
    """Cursors of two repositories are kept apart in one file and read back unchanged."""
    cursor = PollCursor(tmp_path / "c.json")
    first, second = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    cursor.set("a/b", first)
    cursor.set("c/d", second)
    assert (PollCursor(tmp_path / "c.json").get("a/b"), cursor.get("c/d")) == (first, second)


def test_webhook_then_poll_yields_one_event_per_change(
    fake: FakeGitHub,
    make_poller: Callable[..., GitHubPoller],
    store: RunStore,
    webhook: httpx.Client,
    sign: Any,
) -> None:
    """Changes first delivered by webhook are not stored again by the poller."""
    busy_history(fake)
    for event, payload in fake.webhook_log:
        if event in ("issues", "pull_request"):
            deliver(webhook, event, payload, sign)
    before = kinds(store)
    assert (make_poller().poll_once(), len(before)) == ([], 6)


def test_poll_then_webhook_yields_one_event_per_change(
    fake: FakeGitHub,
    make_poller: Callable[..., GitHubPoller],
    store: RunStore,
    webhook: httpx.Client,
    sign: Any,
) -> None:
    """Deliveries of changes the poller already stored are answered as duplicates."""
    busy_history(fake)
    make_poller().poll_once()
    replies = [
        deliver(webhook, event, payload, sign)["duplicate"]
        for event, payload in fake.webhook_log
        if event in ("issues", "pull_request")
    ]
    assert (replies, len(kinds(store))) == ([True] * 6, 6)


def test_label_applier_is_the_latest_labeler(fake: FakeGitHub, gh_repo: Any) -> None:
    """The login that applied the label most recently is returned."""
    fake.create_issue(REPO, "Add a widget", as_user="bob")
    fake.add_labels(REPO, 1, "factory:ready", as_user="bob")
    fake.remove_label(REPO, 1, "factory:ready", as_user="bob")
    fake.add_labels(REPO, 1, "factory:ready", as_user="alice")
    assert label_applier(gh_repo, 1, "factory:ready") == "alice"


def test_label_applier_of_a_label_never_applied_is_none(fake: FakeGitHub, gh_repo: Any) -> None:
    """An issue that never had the label has no applier."""
    fake.create_issue(REPO, "Add a widget", as_user="bob")
    fake.add_labels(REPO, 1, "bug", as_user="alice")
    assert label_applier(gh_repo, 1, "factory:ready") is None
