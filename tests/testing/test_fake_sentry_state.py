"""FakeSentry's issue state: counts, regressions, status updates over PUT, and comments."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from factory.testing.fake_sentry import FakeSentry


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


def test_new_issue_is_unresolved_new(sentry: FakeSentry) -> None:
    """A new issue is unresolved with substatus new and one event."""
    state = sentry.issue_state(sentry.add_issue())
    assert (state["status"], state["substatus"], state["count"]) == ("unresolved", "new", 1)


def test_add_events_moves_count_users_and_last_seen(sentry: FakeSentry, api: httpx.Client) -> None:
    """add_events raises count (a string) and userCount and moves lastSeen later."""
    issue_id = sentry.add_issue(at=datetime.now(UTC) - timedelta(hours=1))
    before = api.get(f"issues/{issue_id}/").json()
    sentry.add_events(issue_id, n=50, users=4)
    after = api.get(f"issues/{issue_id}/").json()
    assert (after["count"], after["userCount"], after["lastSeen"] > before["lastSeen"]) == (
        "51",
        5,
        True,
    )


def test_event_on_resolved_issue_regresses(sentry: FakeSentry) -> None:
    """A resolved issue that gets a new event is unresolved again, substatus regressed."""
    issue_id = sentry.add_issue()
    sentry.resolve(issue_id)
    sentry.add_events(issue_id)
    state = sentry.issue_state(issue_id)
    assert (state["status"], state["substatus"], state["statusDetails"]) == (
        "unresolved",
        "regressed",
        {},
    )


def test_regress_helper_regresses(sentry: FakeSentry, api: httpx.Client) -> None:
    """regress() on a resolved issue makes the REST detail show unresolved/regressed."""
    issue_id = sentry.add_issue()
    sentry.resolve(issue_id)
    sentry.regress(issue_id)
    got = api.get(f"issues/{issue_id}/").json()
    assert (got["status"], got["substatus"], got["count"]) == ("unresolved", "regressed", "2")


def test_regress_refuses_an_unresolved_issue(sentry: FakeSentry) -> None:
    """regress() raises ValueError for an issue that is not resolved."""
    issue_id = sentry.add_issue()
    with pytest.raises(ValueError, match="not resolved"):
        sentry.regress(issue_id)


def test_resolved_in_next_release_ignores_same_release_events(sentry: FakeSentry) -> None:
    """Resolved in the next release, an event from the current release does not regress it."""
    issue_id = sentry.add_issue(release="1.2.0")
    sentry.resolve(issue_id, in_next_release=True)
    sentry.add_events(issue_id, release="1.2.0")
    assert sentry.issue_state(issue_id)["status"] == "resolved"


def test_resolved_in_next_release_regresses_on_a_new_release(sentry: FakeSentry) -> None:
    """Resolved in the next release, an event from a newer release regresses it."""
    issue_id = sentry.add_issue(release="1.2.0")
    sentry.resolve(issue_id, in_next_release=True)
    sentry.add_events(issue_id, release="1.3.0")
    assert sentry.issue_state(issue_id)["substatus"] == "regressed"


def test_ignored_issue_stays_ignored_on_events(sentry: FakeSentry) -> None:
    """An archived-forever issue stays ignored when events come."""
    issue_id = sentry.add_issue()
    sentry.ignore(issue_id)
    sentry.add_events(issue_id, n=3)
    state = sentry.issue_state(issue_id)
    assert (state["status"], state["substatus"]) == ("ignored", "archived_forever")


def test_put_resolved(sentry: FakeSentry, api: httpx.Client) -> None:
    """PUT status=resolved answers the resolved issue and changes the state."""
    issue_id = sentry.add_issue()
    got = api.put(f"organizations/{sentry.org}/issues/{issue_id}/", json={"status": "resolved"})
    assert (got.status_code, got.json()["status"], sentry.issue_state(issue_id)["status"]) == (
        200,
        "resolved",
        "resolved",
    )


def test_put_resolved_in_next_release(sentry: FakeSentry, api: httpx.Client) -> None:
    """PUT status=resolvedInNextRelease answers status resolved, statusDetails inNextRelease."""
    issue_id = sentry.add_issue()
    got = api.put(f"issues/{issue_id}/", json={"status": "resolvedInNextRelease"}).json()
    assert (got["status"], got["statusDetails"]) == ("resolved", {"inNextRelease": True})


def test_put_unresolved_is_ongoing(sentry: FakeSentry, api: httpx.Client) -> None:
    """PUT status=unresolved on a resolved issue makes it unresolved/ongoing."""
    issue_id = sentry.add_issue()
    sentry.resolve(issue_id)
    api.put(f"issues/{issue_id}/", json={"status": "unresolved"})
    state = sentry.issue_state(issue_id)
    assert (state["status"], state["substatus"]) == ("unresolved", "ongoing")


def test_put_ignored_with_count(sentry: FakeSentry, api: httpx.Client) -> None:
    """PUT status=ignored with ignoreCount keeps the details and archives until the condition."""
    issue_id = sentry.add_issue()
    body = {"status": "ignored", "statusDetails": {"ignoreCount": 100}}
    got = api.put(f"issues/{issue_id}/", json=body).json()
    assert (got["status"], got["statusDetails"], sentry.issue_state(issue_id)["substatus"]) == (
        "ignored",
        {"ignoreCount": 100},
        "archived_until_condition_met",
    )


def test_put_bad_status_is_400(sentry: FakeSentry, api: httpx.Client) -> None:
    """PUT with an unknown status answers 400 with DRF's choice error on status."""
    issue_id = sentry.add_issue()
    got = api.put(f"issues/{issue_id}/", json={"status": "fixed"})
    assert (got.status_code, got.json()) == (400, {"status": ['"fixed" is not a valid choice.']})


def test_put_unknown_issue_is_404(api: httpx.Client) -> None:
    """PUT on an unknown issue answers 404."""
    assert api.put("issues/77/", json={"status": "resolved"}).status_code == 404


def test_post_comment(sentry: FakeSentry, api: httpx.Client) -> None:
    """POST comments/ with text answers 201 with a note and records the comment."""
    issue_id = sentry.add_issue()
    got = api.post(f"organizations/{sentry.org}/issues/{issue_id}/comments/", json={"text": "hi"})
    body = got.json()
    assert (
        got.status_code,
        body["type"],
        body["data"],
        sentry.issue_state(issue_id)["comments"],
    ) == (
        201,
        "note",
        {"text": "hi"},
        ["hi"],
    )


def test_notes_path_is_the_same_endpoint(sentry: FakeSentry, api: httpx.Client) -> None:
    """The legacy issues/{id}/notes/ path adds a comment too."""
    issue_id = sentry.add_issue()
    api.post(f"issues/{issue_id}/notes/", json={"text": "from notes"})
    assert sentry.issue_state(issue_id)["comments"] == ["from notes"]


def test_duplicate_comment_is_400(sentry: FakeSentry, api: httpx.Client) -> None:
    """The same comment twice within the hour answers 400 as Sentry does."""
    issue_id = sentry.add_issue()
    api.post(f"issues/{issue_id}/comments/", json={"text": "same"})
    again = api.post(f"issues/{issue_id}/comments/", json={"text": "same"})
    assert (again.status_code, again.json()) == (
        400,
        {"detail": "You have already posted that comment."},
    )


def test_comment_without_text_is_400(sentry: FakeSentry, api: httpx.Client) -> None:
    """A comment body without text answers 400 with the field error."""
    issue_id = sentry.add_issue()
    got = api.post(f"issues/{issue_id}/comments/", json={})
    assert (got.status_code, got.json()) == (400, {"text": ["This field is required."]})


def test_comments_count_on_the_issue(sentry: FakeSentry, api: httpx.Client) -> None:
    """numComments on the issue counts the comments posted."""
    issue_id = sentry.add_issue()
    for text in ("one", "two"):
        api.post(f"issues/{issue_id}/comments/", json={"text": text})
    assert api.get(f"issues/{issue_id}/").json()["numComments"] == 2


def test_get_comments_lists_newest_first(sentry: FakeSentry, api: httpx.Client) -> None:
    """GET comments/ lists the notes, newest first."""
    issue_id = sentry.add_issue()
    for text in ("one", "two"):
        api.post(f"issues/{issue_id}/comments/", json={"text": text})
    got = api.get(f"issues/{issue_id}/comments/").json()
    assert [n["data"]["text"] for n in got] == ["two", "one"]


def test_late_old_event_does_not_move_last_seen_back(sentry: FakeSentry) -> None:
    """An event stamped earlier than the latest one leaves lastSeen at the latest."""
    now = datetime.now(UTC)
    issue_id = sentry.add_issue(at=now - timedelta(minutes=1))
    before = sentry.issue_state(issue_id)["lastSeen"]
    sentry.add_events(issue_id, at=now - timedelta(hours=2))
    state = sentry.issue_state(issue_id)
    assert (state["lastSeen"], state["count"]) == (before, 2)
