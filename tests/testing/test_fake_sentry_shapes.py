"""FakeSentry answers with the keys of Sentry's real payloads (tests/data/sentry)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from factory.testing.fake_sentry import FakeSentry

DOC_ISSUE_URLS = {"url", "web_url", "project_url"}
"""data.issue keys the issue-webhook doc lists as attributes but its example leaves out."""


def fixture(data_dir: Path, name: str) -> Any:
    """Return one payload from tests/data/sentry."""
    return json.loads((data_dir / "sentry" / name).read_text())


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    """A started FakeSentry with one issue of 3 events."""
    with FakeSentry() as fake:
        issue_id = fake.add_issue()
        fake.add_events(issue_id, n=2)
        yield fake


@pytest.fixture
def api(sentry: FakeSentry) -> Iterator[httpx.Client]:
    """An httpx client on the fake with the right Bearer token."""
    headers = {"Authorization": f"Bearer {sentry.token}"}
    with httpx.Client(base_url=sentry.api_url, headers=headers, timeout=10) as client:
        yield client


def only_issue(sentry: FakeSentry) -> str:
    """Return the id of the fixture's one issue."""
    return next(iter(sentry.state.issues))


def test_issue_list_keys(sentry: FakeSentry, api: httpx.Client, data_dir: Path) -> None:
    """Each issue of the list has the list example's keys, and its project the project's."""
    got = api.get(f"organizations/{sentry.org}/issues/").json()[0]
    example = fixture(data_dir, "rest.organizations.issues.list.json")[0]
    assert (set(got), set(got["project"]), set(got["lifetime"])) == (
        set(example),
        set(example["project"]),
        set(example["lifetime"]),
    )


def test_issue_detail_keys(sentry: FakeSentry, api: httpx.Client, data_dir: Path) -> None:
    """GET issues/{id}/ has the detail example's keys, activity's and firstRelease's."""
    got = api.get(f"organizations/{sentry.org}/issues/{only_issue(sentry)}/").json()
    example = fixture(data_dir, "rest.organizations.issues.get.json")
    assert (
        set(got),
        set(got["activity"][-1]),
        set(got["firstRelease"]),
        set(got["stats"]),
    ) == (
        set(example),
        set(example["activity"][0]),
        set(example["firstRelease"]),
        set(example["stats"]),
    )


def test_update_answer_keys(sentry: FakeSentry, api: httpx.Client, data_dir: Path) -> None:
    """The PUT answer has exactly the update example's keys and project keys."""
    got = api.put(f"issues/{only_issue(sentry)}/", json={"status": "unresolved"}).json()
    example = fixture(data_dir, "rest.issues.update.put.200.json")
    assert (set(got), set(got["project"])) == (set(example), set(example["project"]))


def test_latest_event_keys(sentry: FakeSentry, api: httpx.Client, data_dir: Path) -> None:
    """events/latest/ has the event example's keys, entry types and entry keys."""
    got = api.get(f"issues/{only_issue(sentry)}/events/latest/").json()
    example = fixture(data_dir, "rest.issues.events.latest.json")

    def entry(body: Any, kind: str) -> Any:
        return next(e["data"] for e in body["entries"] if e["type"] == kind)

    got_exc, ex_exc = entry(got, "exception"), entry(example, "exception")
    assert (
        set(got),
        [e["type"] for e in got["entries"]],
        set(got_exc),
        set(got_exc["values"][0]),
        set(got_exc["values"][0]["stacktrace"]),
        set(got_exc["values"][0]["stacktrace"]["frames"][0]),
        set(entry(got, "breadcrumbs")["values"][0]),
        set(entry(got, "request")),
        set(got["release"]),
    ) == (
        set(example),
        [e["type"] for e in example["entries"]],
        set(ex_exc),
        set(ex_exc["values"][0]),
        set(ex_exc["values"][0]["stacktrace"]),
        set(ex_exc["values"][0]["stacktrace"]["frames"][0]),
        set(entry(example, "breadcrumbs")["values"][0]),
        set(entry(example, "request")),
        set(example["release"]),
    )


def test_not_found_body_matches(api: httpx.Client, data_dir: Path) -> None:
    """A missing issue answers 404 with exactly the error example's body."""
    resp = api.get("issues/42/")
    assert (resp.status_code, resp.json()) == (404, fixture(data_dir, "rest.error.404.json"))


def test_link_header_has_the_docs_form(
    sentry: FakeSentry, api: httpx.Client, data_dir: Path
) -> None:
    """The Link header has the docs example's form: previous then next, each with results/cursor."""
    sentry.add_issue(title="KeyError: 'x'")
    got = api.get(f"organizations/{sentry.org}/issues/", params={"limit": "1"}).headers["link"]
    example = fixture(data_dir, "rest.pagination.link.page1.json")["headers"]["Link"]

    def form(link: str) -> str:
        link = re.sub(r"<[^>]*>", "<URL>", link)
        return re.sub(r'cursor="[^"]*"', 'cursor="C"', link)

    assert form(got) == form(example)


def test_issue_webhook_keys(sentry: FakeSentry, data_dir: Path) -> None:
    """An issue.created body has the example's keys; data.issue the example's plus the doc's
    url/web_url/project_url."""
    got = sentry.webhook_body("issue", "created", only_issue(sentry))
    example = fixture(data_dir, "webhook.issue.created.json")
    assert (
        set(got),
        set(got["actor"]),
        set(got["data"]),
        set(got["data"]["issue"]),
        set(got["data"]["issue"]["project"]),
        set(got["data"]["issue"]["metadata"]),
    ) == (
        set(example),
        set(example["actor"]),
        set(example["data"]),
        set(example["data"]["issue"]) | DOC_ISSUE_URLS,
        set(example["data"]["issue"]["project"]),
        set(example["data"]["issue"]["metadata"]),
    )


def test_event_alert_webhook_keys(sentry: FakeSentry, data_dir: Path) -> None:
    """An event_alert.triggered body, its event, exception and frames have the example's keys."""
    got = sentry.webhook_body("event_alert", "triggered", only_issue(sentry))
    example = fixture(data_dir, "webhook.event_alert.triggered.json")
    got_event, ex_event = got["data"]["event"], example["data"]["event"]
    got_exc, ex_exc = got_event["exception"]["values"][0], ex_event["exception"]["values"][0]
    assert (
        set(got),
        set(got["data"]),
        set(got_event),
        set(got_exc),
        set(got_exc["stacktrace"]["frames"][0]),
        set(got_event["request"]),
        set(got["data"]["issue_alert"]),
    ) == (
        set(example),
        set(example["data"]),
        set(ex_event),
        set(ex_exc),
        set(ex_exc["stacktrace"]["frames"][0]),
        set(ex_event["request"]),
        set(example["data"]["issue_alert"]),
    )
