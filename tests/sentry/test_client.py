"""SentryClient against FakeSentry: pagination by Link cursor, reads, writes, errors, limits."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from factory.errors import SentryError
from factory.sentry.client import SentryClient, next_cursor, parse_link
from factory.testing.fake_sentry import FakeSentry

SENTRY_DATA = Path(__file__).resolve().parents[1] / "data" / "sentry"


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    """A running FakeSentry."""
    with FakeSentry() as fake:
        yield fake


def client_for(sentry: FakeSentry, **kwargs: float) -> SentryClient:
    """Return a client for FakeSentry's organization with its token."""
    return SentryClient(sentry.api_url, sentry.token, sentry.org, **kwargs)  # type: ignore[arg-type]


def test_link_header_of_the_docs_is_parsed() -> None:
    """The Link header from Sentry's pagination docs gives both links with their cursors."""
    header = json.loads((SENTRY_DATA / "rest.pagination.link.page1.json").read_text())
    links = parse_link(header["headers"]["Link"])
    assert {rel: (link["results"], link["cursor"]) for rel, link in links.items()} == {
        "previous": ("false", "0:0:1"),
        "next": ("true", "0:100:0"),
    }


def test_next_cursor_of_the_docs_first_page() -> None:
    """The docs' first page has a next page at cursor 0:100:0."""
    header = json.loads((SENTRY_DATA / "rest.pagination.link.page1.json").read_text())
    assert next_cursor(header["headers"]["Link"]) == "0:100:0"


def test_next_link_with_results_false_ends_the_listing() -> None:
    """rel="next" with results="false" (always present on the last page) gives no cursor."""
    header = '<https://x/?cursor=0:100:0>; rel="next"; results="false"; cursor="0:100:0"'
    assert next_cursor(header) is None


def test_all_pages_are_followed(sentry: FakeSentry) -> None:
    """Five issues listed two per page come back in three pages, every issue once."""
    ids = {sentry.add_issue(title=f"E{n}: boom") for n in range(5)}
    client = client_for(sentry)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while pages < 10:  # bounded: a client that never stops must fail, not hang
        page, cursor = client.issues(sentry.project, "is:unresolved", cursor, limit=2)
        seen += [issue["id"] for issue in page]
        pages += 1
        if cursor is None:
            break
    assert (pages, sorted(seen)) == (3, sorted(ids))


def test_project_slug_is_searched(sentry: FakeSentry) -> None:
    """A slug other than the issue's project lists nothing."""
    sentry.add_issue()
    page, _ = client_for(sentry).issues("other", "is:unresolved")
    assert page == []


def test_issue_is_read(sentry: FakeSentry) -> None:
    """issue() returns the issue with its title."""
    issue_id = sentry.add_issue(title="KeyError: 'x'")
    assert client_for(sentry).issue(issue_id)["title"] == "KeyError: 'x'"


def test_latest_event_is_read(sentry: FakeSentry) -> None:
    """latest_event() returns an event of the issue."""
    issue_id = sentry.add_issue()
    assert client_for(sentry).latest_event(issue_id)["groupID"] == issue_id


def test_unknown_event_choice_is_refused(sentry: FakeSentry) -> None:
    """latest_event() with a choice Sentry does not have raises ValueError."""
    with pytest.raises(ValueError, match="which must be one of"):
        client_for(sentry).latest_event("1", "newest")


def test_update_resolves_the_issue(sentry: FakeSentry) -> None:
    """update_issue(status=resolved) resolves it in FakeSentry."""
    issue_id = sentry.add_issue()
    client_for(sentry).update_issue(issue_id, status="resolved")
    assert sentry.issue_state(issue_id)["status"] == "resolved"


def test_comment_is_added(sentry: FakeSentry) -> None:
    """comment() adds the text as a note on the issue."""
    issue_id = sentry.add_issue()
    client_for(sentry).comment(issue_id, "Tracked in acme/widgets#7")
    assert sentry.issue_state(issue_id)["comments"] == ["Tracked in acme/widgets#7"]


def test_missing_issue_raises_with_detail_and_id(sentry: FakeSentry) -> None:
    """A 404 raises SentryError naming the issue and carrying Sentry's detail."""
    with pytest.raises(SentryError) as caught:
        client_for(sentry).issue("999999")
    assert (caught.value.status, caught.value.issue_id, caught.value.detail) == (
        404,
        "999999",
        "The requested resource does not exist",
    )


def test_wrong_token_raises_401(sentry: FakeSentry) -> None:
    """A wrong token raises SentryError 401; the token is not in the message."""
    client = SentryClient(sentry.api_url, "sntrys_wrong", sentry.org)
    with pytest.raises(SentryError) as caught:
        client.issues(None, "is:unresolved")
    assert (caught.value.status, "sntrys_wrong" in str(caught.value)) == (401, False)


def test_429_is_waited_out_and_retried(sentry: FakeSentry) -> None:
    """A 429 with Retry-After 1 is slept through and the request then succeeds."""
    sentry.add_issue()
    sentry.rate_limit_next(f"organizations/{sentry.org}/issues/", retry_after=1)
    slept: list[float] = []
    client = SentryClient(sentry.api_url, sentry.token, sentry.org, sleep=slept.append)
    page, _ = client.issues(None, "is:unresolved")
    assert (slept, len(page)) == ([1.0], 1)


def test_429_longer_than_the_bound_raises(sentry: FakeSentry) -> None:
    """A Retry-After beyond max_wait_s raises SentryError 429 carrying the wait."""
    sentry.rate_limit_next(f"organizations/{sentry.org}/issues/", retry_after=120)
    client = SentryClient(sentry.api_url, sentry.token, sentry.org, sleep=lambda _: None)
    with pytest.raises(SentryError) as caught:
        client.issues(None, "is:unresolved")
    assert (caught.value.status, caught.value.retry_after) == (429, 120.0)


def test_non_numeric_issue_id_is_refused(sentry: FakeSentry) -> None:
    """An issue id that is not digits never reaches a URL."""
    with pytest.raises(ValueError, match="issue id is digits"):
        client_for(sentry).issue("../projects")


def test_exhausted_limit_waits_for_the_reset(sentry: FakeSentry) -> None:
    """After an answer with no requests remaining, the next request waits for the reset
    (real sleep, a one-second window) and then succeeds."""
    sentry.set_rate_limit(1, window=1)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    client = SentryClient(sentry.api_url, sentry.token, sentry.org, sleep=sleep)
    client.issues(None, "is:unresolved")
    page, _ = client.issues(None, "is:unresolved")
    assert (page, len(slept) >= 1, sum(slept) <= 2.5) == ([], True, True)


def test_waits_are_bounded_in_all(sentry: FakeSentry) -> None:
    """When Sentry keeps refusing and time does not pass, the client gives up with 429
    once its waits add up to max_wait_s, instead of looping."""
    sentry.set_rate_limit(1, window=60)
    client = SentryClient(
        sentry.api_url, sentry.token, sentry.org, sleep=lambda _: None, max_wait_s=5
    )
    client.issues(None, "is:unresolved")
    with pytest.raises(SentryError) as caught:
        client.issues(None, "is:unresolved")
    assert caught.value.status == 429
