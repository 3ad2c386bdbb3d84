"""POST /webhooks/sentry over real HTTP: signature, replay window, size cap, dedup, storage."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.routing import Route

from factory.sentry.client import SentryClient
from factory.sources.sentry_http import sentry_signature_ok, sentry_webhook_route
from factory.sources.sentry_poller import SentryPoller
from factory.store import RunStore
from factory.testing.fake_sentry import FakeSentry
from tests.sources.slack_support import all_events

Served = Callable[[Route], httpx.Client]
SENTRY_DATA = Path(__file__).resolve().parents[1] / "data" / "sentry"
DELIVERIES = sorted(SENTRY_DATA.glob("webhook.*.json"))
SECRET = "sentry-client-secret-0123456789abcdef"


def resource_of(path: Path) -> str:
    """Return the Sentry-Hook-Resource of a fixture named ``webhook.RESOURCE.ACTION.json``."""
    return path.name.split(".")[1]


def signed(
    body: bytes,
    resource: str,
    *,
    request_id: str | None = None,
    timestamp: float | None = None,
    secret: str = SECRET,
) -> dict[str, str]:
    """Return the headers Sentry sends with ``body``, signed with ``secret``."""
    return {
        "Content-Type": "application/json",
        "Request-ID": request_id or str(uuid.uuid4()),
        "Sentry-Hook-Resource": resource,
        "Sentry-Hook-Timestamp": str(int(time.time() if timestamp is None else timestamp)),
        "Sentry-Hook-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }


def issue_body(action: str = "created", issue_id: str = "1170820242") -> bytes:
    """Return the recorded issue webhook with ``action`` and ``issue_id`` put in."""
    body: dict[str, Any] = json.loads((SENTRY_DATA / "webhook.issue.created.json").read_text())
    body["action"] = action
    body["data"]["issue"]["id"] = issue_id
    return json.dumps(body).encode()


@pytest.fixture
def client(store: RunStore, served: Served) -> httpx.Client:
    """A real server running the Sentry route with SECRET and a 64 kB cap."""
    return served(sentry_webhook_route(store, SecretStr(SECRET), max_body=65536))


def post(client: httpx.Client, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST ``body`` to /webhooks/sentry with ``headers``."""
    return client.post("/webhooks/sentry", content=body, headers=headers)


@pytest.mark.parametrize("path", DELIVERIES, ids=[p.stem for p in DELIVERIES])
def test_signed_fixture_delivery_is_accepted(path: Path, client: httpx.Client) -> None:
    """Every recorded webhook delivery, correctly signed, gets a 2xx."""
    body = path.read_bytes()
    assert post(client, body, signed(body, resource_of(path))).status_code in (200, 202)


def test_issue_created_is_stored_with_the_shared_shape(
    client: httpx.Client, store: RunStore
) -> None:
    """The recorded issue.created becomes one data event about sentry:ID with the flat payload."""
    body = (SENTRY_DATA / "webhook.issue.created.json").read_bytes()
    post(client, body, signed(body, "issue"))
    event = all_events(store)[0].event
    assert (event.source, event.kind, event.dedup_key, event.subject_key, event.trust) == (
        "sentry",
        "sentry.issue.created",
        "sentry:issue:1170820242:created",
        "sentry:1170820242",
        "data",
    )


def test_issue_created_payload_fields(client: httpx.Client, store: RunStore) -> None:
    """The payload carries the issue's counts as ints, its project slug, level and times."""
    body = (SENTRY_DATA / "webhook.issue.created.json").read_bytes()
    post(client, body, signed(body, "issue"))
    payload = all_events(store)[0].event.payload
    picked = {k: payload[k] for k in ("short_id", "level", "project", "count", "user_count")}
    assert picked == {
        "short_id": "FRONT-END-9",
        "level": "error",
        "project": "front-end",
        "count": 1,
        "user_count": 1,
    }


def test_event_alert_is_stored_about_its_issue(client: httpx.Client, store: RunStore) -> None:
    """The recorded event_alert becomes a sentry.event_alert event on the issue it names."""
    body = (SENTRY_DATA / "webhook.event_alert.triggered.json").read_bytes()
    post(client, body, signed(body, "event_alert", request_id="r-alert"))
    event = all_events(store)[0].event
    assert (event.kind, event.subject_key, event.payload["project"]) == (
        "sentry.event_alert",
        "sentry:1117540176",
        "front-end",
    )


def test_installation_stores_nothing(client: httpx.Client, store: RunStore) -> None:
    """An installation delivery is answered 200 and no event is stored."""
    body = (SENTRY_DATA / "webhook.installation.created.json").read_bytes()
    response = post(client, body, signed(body, "installation"))
    assert (response.status_code, all_events(store)) == (200, [])


def test_no_client_secret_refuses_a_signed_delivery(store: RunStore, served: Served) -> None:
    """With no client secret configured, even a delivery signed with any key gets 401."""
    client = served(sentry_webhook_route(store, None))
    body = issue_body()
    response = post(client, body, signed(body, "issue", secret=""))
    assert (response.status_code, all_events(store)) == (401, [])


def _forged(body: bytes) -> dict[str, str]:
    return signed(body, "issue", secret="not-the-secret")


def _missing(body: bytes) -> dict[str, str]:
    headers = signed(body, "issue")
    del headers["Sentry-Hook-Signature"]
    return headers


def _malformed(body: bytes) -> dict[str, str]:
    return {**signed(body, "issue"), "Sentry-Hook-Signature": "sha256=" + "0" * 64}


def _stale(body: bytes) -> dict[str, str]:
    return signed(body, "issue", timestamp=time.time() - 301)


def _future(body: bytes) -> dict[str, str]:
    return signed(body, "issue", timestamp=time.time() + 120)


def _no_timestamp(body: bytes) -> dict[str, str]:
    headers = signed(body, "issue")
    del headers["Sentry-Hook-Timestamp"]
    return headers


def _bad_timestamp(body: bytes) -> dict[str, str]:
    return {**signed(body, "issue"), "Sentry-Hook-Timestamp": "yesterday"}


BAD_HEADERS = [_forged, _missing, _malformed, _stale, _future, _no_timestamp, _bad_timestamp]


@pytest.mark.parametrize("headers", BAD_HEADERS, ids=[f.__name__[1:] for f in BAD_HEADERS])
def test_bad_signature_or_timestamp_gets_401_and_stores_nothing(
    headers: Callable[[bytes], dict[str, str]], client: httpx.Client, store: RunStore
) -> None:
    """A forged, missing, malformed signature or a stale, future, missing timestamp: 401."""
    body = issue_body()
    response = post(client, body, headers(body))
    assert (response.status_code, all_events(store)) == (401, [])


def test_one_byte_changed_body_gets_401(client: httpx.Client, store: RunStore) -> None:
    """A body changed by one byte after signing is refused and nothing is stored."""
    body = issue_body()
    headers = signed(body, "issue")
    tampered = body.replace(b"1170820242", b"1170820243")
    response = post(client, tampered, headers)
    assert (response.status_code, all_events(store)) == (401, [])


def test_signed_but_not_json_is_400(client: httpx.Client, store: RunStore) -> None:
    """A correctly signed body that is not JSON is refused with 400 and stores nothing."""
    body = b"{not json"
    response = post(client, body, signed(body, "issue"))
    assert (response.status_code, all_events(store)) == (400, [])


def test_body_over_the_cap_is_413(store: RunStore, served: Served) -> None:
    """A signed body larger than the cap is refused with 413 before it is parsed."""
    client = served(sentry_webhook_route(store, SecretStr(SECRET), max_body=100))
    body = issue_body()
    response = post(client, body, signed(body, "issue"))
    assert (response.status_code, all_events(store)) == (413, [])


def test_redelivery_with_the_same_request_id_is_one_event(
    client: httpx.Client, store: RunStore
) -> None:
    """The same resolved delivery sent twice with one Request-ID stores one event."""
    body = issue_body("resolved")
    post(client, body, signed(body, "issue", request_id="r-1"))
    second = post(client, body, signed(body, "issue", request_id="r-1"))
    assert (second.json()["duplicate"], len(all_events(store))) == (True, 1)


def test_resolved_with_another_request_id_is_another_event(
    client: httpx.Client, store: RunStore
) -> None:
    """Two resolutions delivered with different Request-IDs are two events."""
    body = issue_body("resolved")
    post(client, body, signed(body, "issue", request_id="r-1"))
    post(client, body, signed(body, "issue", request_id="r-2"))
    assert len(all_events(store)) == 2


def test_issue_created_redelivered_with_a_new_request_id_is_one_event(
    client: httpx.Client, store: RunStore
) -> None:
    """issue.created is keyed by the issue alone: a second delivery of it is a duplicate."""
    body = issue_body("created")
    post(client, body, signed(body, "issue", request_id="r-1"))
    post(client, body, signed(body, "issue", request_id="r-2"))
    assert len(all_events(store)) == 1


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("resolved", "sentry.issue.resolved"),
        ("ignored", "sentry.issue.ignored"),
        ("archived", "sentry.issue.ignored"),
        ("assigned", "sentry.issue.assigned"),
        ("unresolved", "sentry.issue.unresolved"),
    ],
)
def test_issue_actions_become_their_kinds(
    action: str, kind: str, client: httpx.Client, store: RunStore
) -> None:
    """Each issue action is stored with its event kind."""
    body = issue_body(action)
    post(client, body, signed(body, "issue"))
    assert [r.event.kind for r in all_events(store)] == [kind]


def test_unknown_issue_action_stores_nothing(client: httpx.Client, store: RunStore) -> None:
    """An issue action the source does not know is answered 200 and stores nothing."""
    body = issue_body("exploded")
    response = post(client, body, signed(body, "issue"))
    assert (response.status_code, all_events(store)) == (200, [])


def test_on_stored_is_called_for_a_new_event_only(store: RunStore, served: Served) -> None:
    """on_stored runs once for a new event and not for its duplicate."""
    calls: list[int] = []
    client = served(
        sentry_webhook_route(store, SecretStr(SECRET), on_stored=lambda: calls.append(1))
    )
    body = issue_body()
    post(client, body, signed(body, "issue"))
    post(client, body, signed(body, "issue"))
    assert calls == [1]


def test_signature_ok_rejects_a_prefixed_signature() -> None:
    """A ``sha256=``-prefixed value (GitHub's format) is not a Sentry signature."""
    digest = hmac.new(b"k", b"body", hashlib.sha256).hexdigest()
    assert sentry_signature_ok(b"k", b"body", "sha256=" + digest) is False


def test_signature_ok_accepts_upper_case_hex() -> None:
    """Hex digits are compared case-insensitively."""
    digest = hmac.new(b"k", b"body", hashlib.sha256).hexdigest().upper()
    assert sentry_signature_ok(b"k", b"body", digest) is True


def test_non_positive_cap_is_refused(store: RunStore) -> None:
    """A route with max_body 0 cannot be built."""
    with pytest.raises(ValueError, match="max_body must be positive"):
        sentry_webhook_route(store, SecretStr(SECRET), max_body=0)


def poll(sentry: FakeSentry, store: RunStore, tmp_path: Path) -> list[int]:
    """Poll FakeSentry once into ``store``; return the new event ids."""
    client = SentryClient(sentry.api_url, sentry.token, sentry.org)
    return SentryPoller(client, store, tmp_path / "poll.json", project=sentry.project).poll_once()


def test_issue_created_webhook_then_poll_is_one_event(
    store: RunStore, served: Served, tmp_path: Path
) -> None:
    """An issue.created delivery and a later poll of the same issue store one event."""
    with FakeSentry() as sentry:
        client = served(sentry_webhook_route(store, SecretStr(sentry.client_secret)))
        issue_id = sentry.add_issue()
        body = sentry.webhook_body("issue", "created", issue_id)
        sentry.deliver(f"{client.base_url}/webhooks/sentry", "issue", body)
        poll(sentry, store, tmp_path)
    assert [r.event.dedup_key for r in all_events(store)] == [f"sentry:issue:{issue_id}:created"]


def test_poll_then_issue_created_webhook_is_a_duplicate(
    store: RunStore, served: Served, tmp_path: Path
) -> None:
    """A poll first, then the issue.created delivery: the delivery is answered duplicate."""
    with FakeSentry() as sentry:
        client = served(sentry_webhook_route(store, SecretStr(sentry.client_secret)))
        issue_id = sentry.add_issue()
        poll(sentry, store, tmp_path)
        body = sentry.webhook_body("issue", "created", issue_id)
        answer = sentry.deliver(f"{client.base_url}/webhooks/sentry", "issue", body)
    assert (answer.json()["duplicate"], len(all_events(store))) == (True, 1)


def test_fake_sentry_deliveries_of_every_issue_action_are_accepted(
    store: RunStore, served: Served
) -> None:
    """FakeSentry's signed issue deliveries (as Sentry sends them) are each stored."""
    with FakeSentry() as sentry:
        client = served(sentry_webhook_route(store, SecretStr(sentry.client_secret)))
        issue_id = sentry.add_issue()
        url = f"{client.base_url}/webhooks/sentry"
        statuses = [
            sentry.deliver(url, "issue", sentry.webhook_body("issue", action, issue_id)).status_code
            for action in ("created", "assigned", "resolved", "unresolved")
        ]
    assert (statuses, len(all_events(store))) == ([202, 202, 202, 202], 4)


@pytest.mark.parametrize(
    ("resource", "action", "kind"),
    [("event_alert", "triggered", "sentry.event_alert"), ("error", "created", "sentry.error")],
)
def test_event_deliveries_are_stored_about_their_issue_with_environment_and_project(
    resource: str, action: str, kind: str, store: RunStore, served: Served
) -> None:
    """An event_alert or error delivery is stored on its issue, with the event's environment
    and the project slug read from the event's URL."""
    with FakeSentry() as sentry:
        client = served(sentry_webhook_route(store, SecretStr(sentry.client_secret)))
        issue_id = sentry.add_issue(environment="production")
        body = sentry.webhook_body(resource, action, issue_id)
        sentry.deliver(f"{client.base_url}/webhooks/sentry", resource, body)
    event = all_events(store)[0].event
    found = (event.kind, event.subject_key, event.payload["environment"], event.payload["project"])
    assert found == (kind, f"sentry:{issue_id}", "production", "web")


def test_comment_resource_stores_nothing(store: RunStore, served: Served) -> None:
    """A comment delivery (a resource the source does not take) is answered 200, no event."""
    with FakeSentry() as sentry:
        client = served(sentry_webhook_route(store, SecretStr(sentry.client_secret)))
        issue_id = sentry.add_issue()
        body = sentry.webhook_body("comment", "created", issue_id)
        answer = sentry.deliver(f"{client.base_url}/webhooks/sentry", "comment", body)
    assert (answer.status_code, all_events(store)) == (200, [])


def test_signed_delivery_without_request_id_is_400(client: httpx.Client, store: RunStore) -> None:
    """A signed delivery lacking Request-ID cannot be deduplicated: 400, nothing stored."""
    body = issue_body()
    headers = signed(body, "issue")
    del headers["Request-ID"]
    response = post(client, body, headers)
    assert (response.status_code, all_events(store)) == (400, [])
