"""FakeSentry's REST API as httpx sees it: auth, the issue list, detail, events, updates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from factory.testing.fake_sentry import FakeSentry

RATE_HEADERS = {
    "x-sentry-rate-limit-limit",
    "x-sentry-rate-limit-remaining",
    "x-sentry-rate-limit-reset",
    "x-sentry-rate-limit-concurrentlimit",
    "x-sentry-rate-limit-concurrentremaining",
}
MAX_PAGES = 20
"""Bound on pages a follow-the-next-link test reads (a cursor bug must fail, not hang)."""
LINK = re.compile(
    r'<(?P<url>[^>]+)>; rel="(?P<rel>previous|next)"; results="(?P<results>true|false)"; '
    r'cursor="(?P<cursor>-?\d+:\d+:[01])"'
)


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    """A started FakeSentry (org acme, project web)."""
    with FakeSentry() as fake:
        yield fake


@pytest.fixture
def api(sentry: FakeSentry) -> Iterator[httpx.Client]:
    """An httpx client on the fake with the right Bearer token."""
    headers = {"Authorization": f"Bearer {sentry.token}"}
    with httpx.Client(base_url=sentry.api_url, headers=headers, timeout=10) as client:
        yield client


def links(resp: httpx.Response) -> dict[str, dict[str, str]]:
    """Return the Link header's links by rel."""
    return {m["rel"]: m.groupdict() for m in LINK.finditer(resp.headers["link"])}


def issues_path(sentry: FakeSentry) -> str:
    """Return the organization issue list path."""
    return f"organizations/{sentry.org}/issues/"


def ids(resp: httpx.Response) -> list[str]:
    """Return the issue ids of a list answer, in order."""
    return [issue["id"] for issue in resp.json()]


def test_missing_token_is_401_with_detail(sentry: FakeSentry) -> None:
    """A request without Authorization answers 401 with DRF's not-authenticated detail."""
    resp = httpx.get(sentry.api_url + issues_path(sentry))
    assert (resp.status_code, resp.json()) == (
        401,
        {"detail": "Authentication credentials were not provided."},
    )


def test_wrong_token_is_401_invalid_token(sentry: FakeSentry) -> None:
    """A Bearer token that is not the fake's answers 401 Invalid token."""
    resp = httpx.get(
        sentry.api_url + issues_path(sentry), headers={"Authorization": "Bearer sntrys_nope"}
    )
    assert (resp.status_code, resp.json()) == (401, {"detail": "Invalid token"})


def test_default_query_lists_only_unresolved(sentry: FakeSentry, api: httpx.Client) -> None:
    """Without a query parameter the list applies is:unresolved, as Sentry does."""
    open_id = sentry.add_issue(title="KeyError: 'a'")
    done_id = sentry.add_issue(title="KeyError: 'b'")
    sentry.resolve(done_id)
    assert ids(api.get(issues_path(sentry))) == [open_id]


def test_empty_query_lists_every_issue(sentry: FakeSentry, api: httpx.Client) -> None:
    """query= (empty) returns resolved issues too."""
    first = sentry.add_issue(title="KeyError: 'a'")
    second = sentry.add_issue(title="KeyError: 'b'")
    sentry.resolve(first)
    assert ids(api.get(issues_path(sentry), params={"query": ""})) == [second, first]


def test_is_resolved_query(sentry: FakeSentry, api: httpx.Client) -> None:
    """is:resolved returns only resolved issues."""
    sentry.add_issue(title="KeyError: 'a'")
    done_id = sentry.add_issue(title="KeyError: 'b'")
    sentry.resolve(done_id)
    assert ids(api.get(issues_path(sentry), params={"query": "is:resolved"})) == [done_id]


def test_project_query_token_filters(sentry: FakeSentry, api: httpx.Client) -> None:
    """project:<slug> in the query keeps only that project's issues."""
    sentry.add_issue(title="KeyError: 'a'", project="api")
    web_id = sentry.add_issue(title="KeyError: 'b'")
    resp = api.get(issues_path(sentry), params={"query": "is:unresolved project:web"})
    assert ids(resp) == [web_id]


def test_project_id_parameter_filters(sentry: FakeSentry, api: httpx.Client) -> None:
    """The project=<id> parameter keeps only that project's issues."""
    api_id = sentry.add_issue(title="KeyError: 'a'", project="api")
    sentry.add_issue(title="KeyError: 'b'")
    project_id = api.get(f"issues/{api_id}/").json()["project"]["id"]
    assert ids(api.get(issues_path(sentry), params={"project": project_id})) == [api_id]


def test_sort_date_orders_by_last_seen(sentry: FakeSentry, api: httpx.Client) -> None:
    """sort=date puts the most recently seen issue first."""
    old = sentry.add_issue(title="KeyError: 'a'")
    new = sentry.add_issue(title="KeyError: 'b'")
    sentry.add_events(old, n=1)
    assert ids(api.get(issues_path(sentry), params={"sort": "date"})) == [old, new]


def test_sort_freq_orders_by_count(sentry: FakeSentry, api: httpx.Client) -> None:
    """sort=freq puts the issue with the most events first."""
    busy = sentry.add_issue(title="KeyError: 'a'")
    quiet = sentry.add_issue(title="KeyError: 'b'")
    sentry.add_events(busy, n=5)
    sentry.add_events(quiet, n=1)
    assert ids(api.get(issues_path(sentry), params={"sort": "freq"})) == [busy, quiet]


def test_last_seen_since_query(sentry: FakeSentry, api: httpx.Client) -> None:
    """lastSeen:>=<ISO> returns only issues seen at or after that time (a poller's since)."""
    now = datetime.now(UTC)
    sentry.add_issue(title="KeyError: 'old'", at=now - timedelta(hours=3))
    fresh = sentry.add_issue(title="KeyError: 'new'", at=now - timedelta(minutes=5))
    since = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    resp = api.get(issues_path(sentry), params={"query": f"is:unresolved lastSeen:>={since}"})
    assert ids(resp) == [fresh]


def test_last_seen_relative_query(sentry: FakeSentry, api: httpx.Client) -> None:
    """lastSeen:-1h returns only issues seen within the last hour."""
    now = datetime.now(UTC)
    sentry.add_issue(title="KeyError: 'old'", at=now - timedelta(hours=3))
    fresh = sentry.add_issue(title="KeyError: 'new'", at=now - timedelta(minutes=5))
    assert ids(api.get(issues_path(sentry), params={"query": "lastSeen:-1h"})) == [fresh]


def test_new_event_brings_an_old_issue_into_the_since_window(
    sentry: FakeSentry, api: httpx.Client
) -> None:
    """An old issue that gets a new event matches a lastSeen since-query again."""
    now = datetime.now(UTC)
    old = sentry.add_issue(title="KeyError: 'old'", at=now - timedelta(hours=3))
    sentry.add_events(old, n=1)
    assert ids(api.get(issues_path(sentry), params={"query": "lastSeen:-1h"})) == [old]


def test_stats_period_window(sentry: FakeSentry, api: httpx.Client) -> None:
    """statsPeriod=1h keeps only issues with an event in the last hour."""
    now = datetime.now(UTC)
    sentry.add_issue(title="KeyError: 'old'", at=now - timedelta(hours=3))
    fresh = sentry.add_issue(title="KeyError: 'new'", at=now - timedelta(minutes=5))
    assert ids(api.get(issues_path(sentry), params={"statsPeriod": "1h"})) == [fresh]


def test_start_parameter_window(sentry: FakeSentry, api: httpx.Client) -> None:
    """start=<ISO> keeps only issues with an event since then."""
    now = datetime.now(UTC)
    sentry.add_issue(title="KeyError: 'old'", at=now - timedelta(hours=3))
    fresh = sentry.add_issue(title="KeyError: 'new'", at=now - timedelta(minutes=5))
    start = (now - timedelta(hours=1)).isoformat()
    assert ids(api.get(issues_path(sentry), params={"start": start})) == [fresh]


def test_bad_time_in_query_is_400(sentry: FakeSentry, api: httpx.Client) -> None:
    """A malformed lastSeen value answers 400 with a detail."""
    resp = api.get(issues_path(sentry), params={"query": "lastSeen:>yesterday"})
    assert (resp.status_code, set(resp.json())) == (400, {"detail"})


def test_first_page_link_header(sentry: FakeSentry, api: httpx.Client) -> None:
    """A first page has previous results=false and next results=true with real cursors."""
    made = [sentry.add_issue(title=f"KeyError: '{n}'") for n in range(3)]
    resp = api.get(issues_path(sentry), params={"limit": "2"})
    got = links(resp)
    assert (
        ids(resp),
        got["previous"]["results"],
        got["previous"]["cursor"].endswith(":0:1"),
        got["next"]["results"],
        got["next"]["cursor"].endswith(":0:0"),
    ) == ([made[2], made[1]], "false", True, "true", True)


def test_link_url_carries_the_query_and_cursor(sentry: FakeSentry, api: httpx.Client) -> None:
    """The next link repeats the request's parameters and ends with &cursor=<cursor>."""
    for n in range(3):
        sentry.add_issue(title=f"KeyError: '{n}'")
    resp = api.get(issues_path(sentry), params={"limit": "2", "query": "is:unresolved"})
    nxt = links(resp)["next"]
    expected = (
        f"{sentry.api_url}{issues_path(sentry)}?limit=2&query=is%3Aunresolved"
        f"&cursor={nxt['cursor']}"
    )
    assert nxt["url"] == expected


def test_following_next_links_visits_every_issue_once(
    sentry: FakeSentry, api: httpx.Client
) -> None:
    """Following rel=next until results=false returns each issue exactly once, newest first."""
    made = [sentry.add_issue(title=f"KeyError: '{n}'") for n in range(7)]
    seen: list[str] = []
    url: str | None = sentry.api_url + issues_path(sentry) + "?limit=3"
    for _ in range(MAX_PAGES):
        if url is None:
            break
        resp = api.get(url)
        seen += ids(resp)
        nxt = links(resp)["next"]
        url = nxt["url"] if nxt["results"] == "true" else None
    assert seen == list(reversed(made))


def test_last_page_next_has_no_results(sentry: FakeSentry, api: httpx.Client) -> None:
    """A page that holds the rest still has a next link, with results=false."""
    sentry.add_issue(title="KeyError: 'a'")
    resp = api.get(issues_path(sentry))
    got = links(resp)
    assert (got["previous"]["results"], got["next"]["results"]) == ("false", "false")


def test_previous_link_returns_the_page_before(sentry: FakeSentry, api: httpx.Client) -> None:
    """The second page's previous link returns the first page again."""
    for n in range(5):
        sentry.add_issue(title=f"KeyError: '{n}'")
    first = api.get(issues_path(sentry), params={"limit": "2"})
    second = api.get(links(first)["next"]["url"])
    back = api.get(links(second)["previous"]["url"])
    assert (links(second)["previous"]["results"], ids(back)) == ("true", ids(first))


def test_bad_cursor_is_400(sentry: FakeSentry, api: httpx.Client) -> None:
    """A cursor not of the value:offset:is_prev form answers 400 Invalid cursor parameter."""
    resp = api.get(issues_path(sentry), params={"cursor": "abc"})
    assert (resp.status_code, resp.json()) == (400, {"detail": "Invalid cursor parameter."})


def test_issue_detail_by_org_path_and_legacy_path(sentry: FakeSentry, api: httpx.Client) -> None:
    """The issue answers on organizations/{org}/issues/{id}/ and issues/{id}/ alike."""
    issue_id = sentry.add_issue()
    org_path = api.get(f"{issues_path(sentry)}{issue_id}/").json()
    legacy = api.get(f"issues/{issue_id}/").json()
    assert (org_path["id"], legacy["id"], org_path["title"]) == (
        issue_id,
        issue_id,
        "ZeroDivisionError: division by zero",
    )


def test_issue_detail_by_short_id(sentry: FakeSentry, api: httpx.Client) -> None:
    """An issue can be fetched by its short id under the organization."""
    issue_id = sentry.add_issue()
    short = sentry.issue_state(issue_id)["shortId"]
    assert api.get(f"{issues_path(sentry)}{short}/").json()["id"] == issue_id


def test_unknown_issue_is_404_with_detail(sentry: FakeSentry, api: httpx.Client) -> None:
    """An unknown issue id answers 404 {"detail": "The requested resource does not exist"}."""
    resp = api.get("issues/999/")
    assert (resp.status_code, resp.json()) == (
        404,
        {"detail": "The requested resource does not exist"},
    )


def test_other_org_is_404(sentry: FakeSentry, api: httpx.Client) -> None:
    """An issue asked for under another organization's slug is not found."""
    issue_id = sentry.add_issue()
    assert api.get(f"organizations/other/issues/{issue_id}/").status_code == 404


def test_every_answer_has_rate_limit_headers(sentry: FakeSentry, api: httpx.Client) -> None:
    """Success, 404 and 401 answers all carry the five X-Sentry-Rate-Limit-* headers."""
    issue_id = sentry.add_issue()
    answers = [
        api.get(f"issues/{issue_id}/"),
        api.get("issues/999/"),
        httpx.get(sentry.api_url + issues_path(sentry)),
    ]
    assert [set(a.headers) >= RATE_HEADERS for a in answers] == [True, True, True]


def test_remaining_counts_down(sentry: FakeSentry, api: httpx.Client) -> None:
    """X-Sentry-Rate-Limit-Remaining drops by one per request in a window."""
    sentry.set_rate_limit(1000, window=10**9)
    first = int(api.get(issues_path(sentry)).headers["x-sentry-rate-limit-remaining"])
    second = int(api.get(issues_path(sentry)).headers["x-sentry-rate-limit-remaining"])
    assert (first, second) == (999, 998)


def test_rate_limit_next_answers_429_with_retry_after(
    sentry: FakeSentry, api: httpx.Client
) -> None:
    """rate_limit_next makes the next matching call 429 with Retry-After, then it passes."""
    sentry.rate_limit_next(issues_path(sentry), retry_after=2)
    limited = api.get(issues_path(sentry))
    after = api.get(issues_path(sentry))
    assert (
        limited.status_code,
        limited.headers["retry-after"],
        limited.headers["x-sentry-rate-limit-remaining"],
        "detail" in limited.json(),
        after.status_code,
    ) == (429, "2", "0", True, 200)


def test_spent_window_answers_429(sentry: FakeSentry, api: httpx.Client) -> None:
    """Past the per-endpoint limit in a window the fake answers 429 like Sentry's middleware."""
    sentry.set_rate_limit(2, window=10**9)
    codes = [api.get(issues_path(sentry)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_calls_are_recorded(sentry: FakeSentry, api: httpx.Client) -> None:
    """calls lists (method, path, query) for each request."""
    api.get(issues_path(sentry), params={"query": "is:unresolved"})
    assert sentry.calls == [("GET", f"/api/0/{issues_path(sentry)}", {"query": ["is:unresolved"]})]


def test_paging_through_equal_sort_keys_visits_each_once(
    sentry: FakeSentry, api: httpx.Client
) -> None:
    """With sort=freq and equal counts, the cursor offsets still visit every issue once."""
    made = [sentry.add_issue(title=f"KeyError: '{n}'") for n in range(5)]
    seen: list[str] = []
    url: str | None = sentry.api_url + issues_path(sentry) + "?limit=2&sort=freq"
    for _ in range(MAX_PAGES):
        if url is None:
            break
        resp = api.get(url)
        seen += ids(resp)
        nxt = links(resp)["next"]
        url = nxt["url"] if nxt["results"] == "true" else None
    assert sorted(seen) == sorted(made)


def test_unknown_endpoint_is_404_with_rate_headers(api: httpx.Client) -> None:
    """A path the fake has no endpoint for answers 404 with the detail and rate headers."""
    resp = api.get("organizations/acme/releases/")
    assert (resp.status_code, resp.json(), set(resp.headers) >= RATE_HEADERS) == (
        404,
        {"detail": "The requested resource does not exist"},
        True,
    )


def test_wrong_method_is_405(sentry: FakeSentry, api: httpx.Client) -> None:
    """DELETE on the issue list answers 405 with DRF's detail."""
    resp = api.delete(issues_path(sentry))
    assert (resp.status_code, resp.json()) == (405, {"detail": 'Method "DELETE" not allowed.'})
