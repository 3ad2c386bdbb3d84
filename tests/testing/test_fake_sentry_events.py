"""FakeSentry's events: latest/oldest/recommended with the exception chain and frames."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from factory.testing.fake_sentry import FakeSentry

CAUSE_FRAMES = [
    {
        "filename": "db.py",
        "function": "fetch",
        "lineno": 40,
        "in_app": True,
        "pre_context": ["def fetch(key):"],
        "context_line": "    return rows[key]",
        "post_context": ["", "def store():"],
    }
]
RAISED_FRAMES = [
    {"filename": "django/core/handlers.py", "function": "inner", "lineno": 55, "in_app": False},
    {
        "filename": "views.py",
        "function": "show",
        "lineno": 12,
        "in_app": True,
        "pre_context": ["def show(request):", "    try:"],
        "context_line": "        fetch(request.key)",
        "post_context": ["    except KeyError as exc:"],
    },
]
CHAIN = [
    {"type": "KeyError", "value": "'a'", "frames": CAUSE_FRAMES},
    {
        "type": "LookupFailed",
        "value": "no row a",
        "frames": RAISED_FRAMES,
        "mechanism": {"type": "django", "handled": False},
    },
]


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


def entry(event: dict[str, Any], kind: str) -> Any:
    """Return the data of the event's entry of ``kind``."""
    return next(e["data"] for e in event["entries"] if e["type"] == kind)


def latest(api: httpx.Client, issue_id: str) -> dict[str, Any]:
    """Return the issue's latest event."""
    resp = api.get(f"issues/{issue_id}/events/latest/")
    assert resp.status_code == 200
    body: dict[str, Any] = resp.json()
    return body


def test_exception_chain_cause_first(sentry: FakeSentry, api: httpx.Client) -> None:
    """The exception entry lists the chain cause first, the raised exception last."""
    issue_id = sentry.add_issue(title="LookupFailed: no row a", exceptions=CHAIN)
    values = entry(latest(api, issue_id), "exception")["values"]
    assert [(v["type"], v["value"]) for v in values] == [
        ("KeyError", "'a'"),
        ("LookupFailed", "no row a"),
    ]


def test_frames_carry_in_app_file_line_function(sentry: FakeSentry, api: httpx.Client) -> None:
    """Frames come in REST form: inApp, filename, lineNo, function, oldest call first."""
    issue_id = sentry.add_issue(title="LookupFailed: no row a", exceptions=CHAIN)
    frames = entry(latest(api, issue_id), "exception")["values"][1]["stacktrace"]["frames"]
    assert [(f["inApp"], f["filename"], f["lineNo"], f["function"]) for f in frames] == [
        (False, "django/core/handlers.py", 55, "inner"),
        (True, "views.py", 12, "show"),
    ]


def test_frame_context_lines_are_numbered(sentry: FakeSentry, api: httpx.Client) -> None:
    """A frame's context holds [lineno, line] pairs around its line."""
    issue_id = sentry.add_issue(title="LookupFailed: no row a", exceptions=CHAIN)
    frame = entry(latest(api, issue_id), "exception")["values"][0]["stacktrace"]["frames"][0]
    assert frame["context"] == [
        [39, "def fetch(key):"],
        [40, "    return rows[key]"],
        [41, ""],
        [42, "def store():"],
    ]


def test_mechanism_is_kept(sentry: FakeSentry, api: httpx.Client) -> None:
    """The raised exception's mechanism (unhandled) is in the event."""
    issue_id = sentry.add_issue(title="LookupFailed: no row a", exceptions=CHAIN)
    values = entry(latest(api, issue_id), "exception")["values"]
    assert values[1]["mechanism"] == {"type": "django", "handled": False}


def test_frames_argument_makes_one_exception_from_the_title(
    sentry: FakeSentry, api: httpx.Client
) -> None:
    """frames= gives the raised exception, whose type and value come from the title."""
    issue_id = sentry.add_issue(title="ZeroDivisionError: division by zero", frames=CAUSE_FRAMES)
    values = entry(latest(api, issue_id), "exception")["values"]
    assert [(v["type"], v["value"], len(v["stacktrace"]["frames"])) for v in values] == [
        ("ZeroDivisionError", "division by zero", 1)
    ]


def test_culprit_defaults_to_innermost_in_app_frame(sentry: FakeSentry, api: httpx.Client) -> None:
    """Without culprit= the issue's culprit names the innermost in-app frame."""
    issue_id = sentry.add_issue(title="LookupFailed: no row a", exceptions=CHAIN)
    assert api.get(f"issues/{issue_id}/").json()["culprit"] == "views.py in show"


def test_breadcrumbs_and_request_entries(sentry: FakeSentry, api: httpx.Client) -> None:
    """Given breadcrumbs and request appear as their entries."""
    crumbs = [{"category": "query", "message": "SELECT 1", "level": "info"}]
    request = {"url": "https://web.example.com/x", "method": "POST", "headers": [["A", "b"]]}
    issue_id = sentry.add_issue(breadcrumbs=crumbs, request=request)
    event = latest(api, issue_id)
    got_request = entry(event, "request")
    assert (
        [c["message"] for c in entry(event, "breadcrumbs")["values"]],
        (got_request["url"], got_request["method"], got_request["headers"]),
    ) == (["SELECT 1"], ("https://web.example.com/x", "POST", [["A", "b"]]))


def test_latest_and_oldest_differ(sentry: FakeSentry, api: httpx.Client) -> None:
    """oldest is the first event, latest the last; they link to each other's neighbours."""
    issue_id = sentry.add_issue()
    later = sentry.add_events(issue_id, n=2)
    oldest = api.get(f"issues/{issue_id}/events/oldest/").json()
    newest = latest(api, issue_id)
    assert (newest["eventID"], newest["previousEventID"], oldest["nextEventID"]) == (
        later[1],
        later[0],
        later[0],
    )


def test_recommended_event_answers(sentry: FakeSentry, api: httpx.Client) -> None:
    """events/recommended/ answers an event of the issue."""
    issue_id = sentry.add_issue()
    got = api.get(f"organizations/{sentry.org}/issues/{issue_id}/events/recommended/").json()
    assert got["groupID"] == issue_id


def test_event_by_id(sentry: FakeSentry, api: httpx.Client) -> None:
    """An event can be fetched by its id."""
    issue_id = sentry.add_issue()
    event_id = sentry.add_events(issue_id, n=1)[0]
    assert api.get(f"issues/{issue_id}/events/{event_id}/").json()["id"] == event_id


def test_unknown_event_is_404(sentry: FakeSentry, api: httpx.Client) -> None:
    """An event id the issue does not have answers 404."""
    issue_id = sentry.add_issue()
    assert api.get(f"issues/{issue_id}/events/{'f' * 32}/").status_code == 404


def test_event_tags_carry_environment_and_release(sentry: FakeSentry, api: httpx.Client) -> None:
    """The event's tags hold its environment and release."""
    issue_id = sentry.add_issue(environment="staging", release="2.0.0")
    tags = {t["key"]: t["value"] for t in latest(api, issue_id)["tags"]}
    assert (tags["environment"], tags["release"]) == ("staging", "2.0.0")
