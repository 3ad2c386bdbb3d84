"""FakeSentry's webhooks: bodies that follow the issue's state, signatures, delivery headers."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from factory.testing.fake_sentry import FakeSentry


@dataclass
class Receiver:
    """A local HTTP endpoint that keeps each POST's headers and raw body."""

    url: str
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A started webhook receiver on 127.0.0.1 answering 200."""
    box = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            box.got.append((dict(self.headers.items()), raw))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    box.url = f"http://127.0.0.1:{server.server_address[1]}/sentry/webhook"
    yield box
    server.shutdown()
    server.server_close()


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    """A started FakeSentry (org acme, project web)."""
    with FakeSentry() as fake:
        yield fake


def test_issue_body_follows_the_state(sentry: FakeSentry) -> None:
    """An issue.resolved body carries the issue's current status and count."""
    issue_id = sentry.add_issue()
    sentry.add_events(issue_id, n=4)
    sentry.resolve(issue_id)
    issue = sentry.webhook_body("issue", "resolved", issue_id)["data"]["issue"]
    assert (issue["id"], issue["status"], issue["count"]) == (issue_id, "resolved", "5")


def test_created_actor_is_sentry(sentry: FakeSentry) -> None:
    """An issue.created body's actor is the Sentry application, as in the docs example."""
    body = sentry.webhook_body("issue", "created", sentry.add_issue())
    assert (body["action"], body["actor"]) == (
        "created",
        {"id": "sentry", "name": "Sentry", "type": "application"},
    )


def test_installation_uuid_is_the_fakes(sentry: FakeSentry) -> None:
    """Bodies name the fake's installation."""
    body = sentry.webhook_body("issue", "created", sentry.add_issue())
    assert body["installation"] == {"uuid": sentry.installation}


def test_event_alert_carries_the_latest_event(sentry: FakeSentry) -> None:
    """An event_alert body holds the issue's latest event with its issue id."""
    issue_id = sentry.add_issue()
    last = sentry.add_events(issue_id, n=2)[-1]
    event = sentry.webhook_body("event_alert", "triggered", issue_id)["data"]["event"]
    assert (event["event_id"], event["issue_id"]) == (last, issue_id)


def test_event_alert_frames_in_stored_form(sentry: FakeSentry) -> None:
    """The event_alert event's frames use the stored keys (lineno, in_app, context_line)."""
    frames = [{"filename": "a.py", "function": "f", "lineno": 7, "in_app": True}]
    issue_id = sentry.add_issue(frames=frames)
    event = sentry.webhook_body("event_alert", "triggered", issue_id)["data"]["event"]
    frame = event["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert (frame["filename"], frame["function"], frame["lineno"], frame["in_app"]) == (
        "a.py",
        "f",
        7,
        True,
    )


def test_unknown_action_is_refused(sentry: FakeSentry) -> None:
    """A resource/action pair Sentry does not send raises ValueError."""
    issue_id = sentry.add_issue()
    with pytest.raises(ValueError, match="ignored"):
        sentry.webhook_body("issue", "ignored", issue_id)


def test_sign_is_hmac_sha256_of_the_body(sentry: FakeSentry) -> None:
    """sign() gives the hex HMAC-SHA256 of the raw body keyed with the client secret."""
    body = b'{"action": "created"}'
    expected = hmac.new(sentry.client_secret.encode(), body, hashlib.sha256).hexdigest()
    assert sentry.sign(body) == {"Sentry-Hook-Signature": expected}


def test_deliver_sends_sentry_headers(sentry: FakeSentry, receiver: Receiver) -> None:
    """deliver() POSTs JSON with Request-ID, resource, timestamp and a matching signature."""
    body = sentry.webhook_body("issue", "created", sentry.add_issue())
    resp = sentry.deliver(receiver.url, "issue", body, timestamp=1700000000)
    headers, raw = receiver.got[0]
    expected_sig = hmac.new(sentry.client_secret.encode(), raw, hashlib.sha256).hexdigest()
    assert (
        resp.status_code,
        headers["Content-Type"],
        str(uuid.UUID(headers["Request-ID"])) == headers["Request-ID"],
        headers["Sentry-Hook-Resource"],
        headers["Sentry-Hook-Timestamp"],
        headers["Sentry-Hook-Signature"],
        json.loads(raw),
    ) == (200, "application/json", True, "issue", "1700000000", expected_sig, body)


def test_deliver_with_other_secret_signs_with_it(sentry: FakeSentry, receiver: Receiver) -> None:
    """deliver(secret=...) signs with that secret (a forged delivery)."""
    body = sentry.webhook_body("issue", "created", sentry.add_issue())
    sentry.deliver(receiver.url, "issue", body, secret="wrong", request_id="r-1")
    headers, raw = receiver.got[0]
    expected = hmac.new(b"wrong", raw, hashlib.sha256).hexdigest()
    assert (headers["Sentry-Hook-Signature"], headers["Request-ID"]) == (expected, "r-1")


def test_comment_body_carries_the_latest_comment(sentry: FakeSentry) -> None:
    """A comment.created body names the issue, its project and the latest comment's text."""
    issue_id = sentry.add_issue()
    headers = {"Authorization": f"Bearer {sentry.token}"}
    url = f"{sentry.api_url}issues/{issue_id}/comments/"
    httpx.post(url, json={"text": "looking into it"}, headers=headers, timeout=10)
    data = sentry.webhook_body("comment", "created", issue_id)["data"]
    assert (data["comment"], data["issue_id"], data["project_slug"], set(data)) == (
        "looking into it",
        int(issue_id),
        "web",
        {"comment", "project_slug", "comment_id", "issue_id", "timestamp"},
    )
