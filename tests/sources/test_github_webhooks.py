"""POST /webhooks/github over real HTTP: signatures, size cap, storage and dedup."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog.testing
from pydantic import SecretStr
from starlette.routing import Route

from factory.events import Subject
from factory.sources.github_webhooks import github_webhook_route
from factory.store import RunStore
from tests.conftest import static_trust

WEBHOOKS = Path(__file__).resolve().parents[1] / "data" / "github-webhooks"
FILES = sorted(WEBHOOKS.glob("*.json"))
SECRET = "It's a Secret to Everybody"

Served = Callable[[Route], httpx.Client]


@pytest.fixture
def client(store: RunStore, served: Served) -> httpx.Client:
    """A real server running the webhook route with SECRET, storing into ``store``."""
    return served(github_webhook_route(store, SecretStr(SECRET), max_body=64 * 1024))


def stored(store: RunStore) -> int:
    """Return how many events the store holds."""
    return len(store.undispatched_events(limit=10_000))


def expected_subject(event: str, payload: dict[str, Any]) -> Subject | None:
    """The subject the brief asks for, written out per event type from the payload fields."""
    if event in ("issues", "issue_comment"):
        issue = payload["issue"]
        kind = "pull_request" if "pull_request" in issue else "issue"
        return Subject(
            kind=kind, number=issue["number"], title=issue["title"], url=issue["html_url"]
        )
    if event in ("pull_request", "pull_request_review"):
        pr = payload["pull_request"]
        return Subject(
            kind="pull_request",
            number=pr["number"],
            title=pr["title"],
            url=pr["html_url"],
            sha=pr["head"]["sha"],
        )
    if event in ("check_run", "check_suite"):
        check = payload[event]
        if check["pull_requests"]:
            first = check["pull_requests"][0]
            return Subject(kind="pull_request", number=first["number"], sha=first["head"]["sha"])
        return Subject(kind="commit", sha=check["head_sha"])
    if event == "push":
        if payload["deleted"]:
            return None
        head = payload["head_commit"]
        return Subject(
            kind="commit",
            sha=payload["after"],
            title=head["message"].splitlines()[0],
            url=head["url"],
        )
    return None


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_signed_fixture_is_stored_with_its_kind_subject_and_actor(
    path: Path, store: RunStore, client: httpx.Client, headers_for: Callable[..., dict[str, str]]
) -> None:
    """Every recorded payload, correctly signed, is accepted and normalized as the brief says."""
    body = path.read_bytes()
    event = path.name.split(".")[0]
    payload = json.loads(body)
    reply = client.post("/webhooks/github", content=body, headers=headers_for(event, body))
    assert reply.status_code == 202
    got = store.get_event(reply.json()["event_id"]).event
    kind = f"{event}.{payload['action']}" if "action" in payload else event
    assert (got.source, got.kind, got.subject, got.actor) == (
        "github",
        kind,
        expected_subject(event, payload),
        payload["sender"]["login"],
    )


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h, b: ({**h}, b[:-2] + b"x" + b[-1:]), id="one-changed-byte"),
        pytest.param(
            lambda h, b: ({**h, "X-Hub-Signature-256": "sha256=" + "0" * 64}, b),
            id="wrong-signature",
        ),
        pytest.param(
            lambda h, b: ({k: v for k, v in h.items() if k != "X-Hub-Signature-256"}, b),
            id="missing-signature",
        ),
        pytest.param(
            lambda h, b: (
                {
                    **{k: v for k, v in h.items() if k != "X-Hub-Signature-256"},
                    "X-Hub-Signature": "sha1=" + "a" * 40,
                },
                b,
            ),
            id="sha1-only",
        ),
        pytest.param(
            lambda h, b: ({**h, "X-Hub-Signature-256": h["X-Hub-Signature-256"][7:]}, b),
            id="no-sha256-prefix",
        ),
        pytest.param(
            lambda h, b: ({**h, "X-Hub-Signature-256": h["X-Hub-Signature-256"][:-1]}, b),
            id="short-hex",
        ),
    ],
)
def test_bad_signature_gets_401_and_stores_nothing(
    tamper: Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]],
    store: RunStore,
    client: httpx.Client,
    headers_for: Callable[..., dict[str, str]],
) -> None:
    """A tampered body or a missing, SHA-1-only or malformed signature is refused, unstored."""
    body = (WEBHOOKS / "issues.labeled.9.json").read_bytes()
    headers, sent = tamper(headers_for("issues", body), body)
    reply = client.post("/webhooks/github", content=sent, headers=headers)
    assert (reply.status_code, stored(store)) == (401, 0)


def test_payload_signed_with_another_secret_gets_401(
    store: RunStore, client: httpx.Client, sign: Callable[..., str]
) -> None:
    """A delivery signed with a different secret is refused and not stored."""
    body = (WEBHOOKS / "issues.opened.15.json").read_bytes()
    headers = {
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": "d-1",
        "X-Hub-Signature-256": sign(body, "not the secret"),
    }
    reply = client.post("/webhooks/github", content=body, headers=headers)
    assert (reply.status_code, stored(store)) == (401, 0)


@pytest.mark.parametrize("secret", [None, SecretStr("")], ids=["none", "empty"])
def test_route_without_secret_refuses_everything(
    secret: SecretStr | None,
    store: RunStore,
    served: Served,
    headers_for: Callable[..., dict[str, str]],
) -> None:
    """With no secret configured, even a delivery signed with the usual secret gets 401."""
    api = served(github_webhook_route(store, secret))
    body = (WEBHOOKS / "issues.opened.15.json").read_bytes()
    reply = api.post("/webhooks/github", content=body, headers=headers_for("issues", body))
    assert (reply.status_code, stored(store)) == (401, 0)


def test_body_over_cap_by_content_length_gets_413(
    store: RunStore, served: Served, headers_for: Callable[..., dict[str, str]]
) -> None:
    """A correctly signed body larger than the cap is refused with 413 and not stored."""
    api = served(github_webhook_route(store, SecretStr(SECRET), max_body=1000))
    body = (WEBHOOKS / "issues.opened.15.json").read_bytes()
    reply = api.post("/webhooks/github", content=body, headers=headers_for("issues", body))
    assert (reply.status_code, stored(store)) == (413, 0)


def test_chunked_body_over_cap_gets_413(
    store: RunStore, served: Served, headers_for: Callable[..., dict[str, str]]
) -> None:
    """A body sent without Content-Length is counted while read and refused past the cap."""
    api = served(github_webhook_route(store, SecretStr(SECRET), max_body=1000))
    body = (WEBHOOKS / "issues.opened.15.json").read_bytes()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 256):
            yield body[start : start + 256]

    headers = headers_for("issues", body)
    reply = api.post("/webhooks/github", content=chunks(), headers=headers)
    assert (reply.request.headers.get("content-length"), reply.status_code, stored(store)) == (
        None,
        413,
        0,
    )


def test_chunked_body_under_cap_is_accepted(
    store: RunStore, client: httpx.Client, headers_for: Callable[..., dict[str, str]]
) -> None:
    """A signed body sent in chunks without Content-Length is read whole and stored."""
    body = (WEBHOOKS / "push.0.json").read_bytes()
    reply = client.post(
        "/webhooks/github",
        content=iter([body[:100], body[100:]]),
        headers=headers_for("push", body),
    )
    assert (reply.status_code, stored(store)) == (202, 1)


def test_same_delivery_twice_yields_one_event(
    store: RunStore, client: httpx.Client, headers_for: Callable[..., dict[str, str]]
) -> None:
    """A redelivery answers 202 with the first event's id, marked duplicate, and adds nothing."""
    body = (WEBHOOKS / "issue_comment.created.0.json").read_bytes()
    headers = headers_for("issue_comment", body, delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    first = client.post("/webhooks/github", content=body, headers=headers).json()
    second = client.post("/webhooks/github", content=body, headers=headers).json()
    assert (second, stored(store)) == ({"event_id": first["event_id"], "duplicate": True}, 1)


def test_label_change_under_two_delivery_ids_yields_one_event(
    store: RunStore, client: httpx.Client, headers_for: Callable[..., dict[str, str]]
) -> None:
    """The same label change delivered twice under new delivery ids is stored once."""
    body = (WEBHOOKS / "issues.labeled.9.json").read_bytes()
    client.post("/webhooks/github", content=body, headers=headers_for("issues", body))
    client.post("/webhooks/github", content=body, headers=headers_for("issues", body))
    assert stored(store) == 1


def test_ping_answers_200_and_stores_nothing(
    store: RunStore, client: httpx.Client, headers_for: Callable[..., dict[str, str]]
) -> None:
    """GitHub's ping is answered 200 and leaves the store empty."""
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    reply = client.post("/webhooks/github", content=body, headers=headers_for("ping", body))
    assert (reply.status_code, stored(store)) == (200, 0)


def test_unknown_event_type_is_stored_with_its_kind(
    store: RunStore, client: httpx.Client, headers_for: Callable[..., dict[str, str]]
) -> None:
    """An event type factoryd does not know is stored as "<event>.<action>" all the same."""
    body = json.dumps({"action": "created", "sender": {"login": "someone"}}).encode()
    reply = client.post("/webhooks/github", content=body, headers=headers_for("star", body))
    assert store.get_event(reply.json()["event_id"]).event.kind == "star.created"


def test_signed_non_json_body_gets_400_and_stores_nothing(
    store: RunStore, client: httpx.Client, headers_for: Callable[..., dict[str, str]]
) -> None:
    """A correctly signed body that is not a JSON object is refused with 400."""
    body = b"[1, 2, 3]"
    reply = client.post("/webhooks/github", content=body, headers=headers_for("issues", body))
    assert (reply.status_code, stored(store)) == (400, 0)


def test_stored_payload_keeps_the_delivery_id(
    store: RunStore, client: httpx.Client, headers_for: Callable[..., dict[str, str]]
) -> None:
    """The delivery id is kept in the stored payload, even under a shared dedup key."""
    body = (WEBHOOKS / "issues.labeled.9.json").read_bytes()
    headers = headers_for("issues", body, delivery="delivery-42")
    reply = client.post("/webhooks/github", content=body, headers=headers)
    payload = store.get_event(reply.json()["event_id"]).event.payload
    assert payload["_factory"]["delivery_id"] == "delivery-42"


def test_label_applied_by_non_author_gets_resolver_trust(
    store: RunStore, served: Served, headers_for: Callable[..., dict[str, str]]
) -> None:
    """When the sender labelled someone else's issue, the resolver decides the trust."""
    resolver = static_trust({"maintainer-bob": "admin"})
    api = served(github_webhook_route(store, SecretStr(SECRET), trust_resolver=resolver))
    payload = json.loads((WEBHOOKS / "issues.labeled.9.json").read_bytes())
    payload["sender"] = {**payload["sender"], "login": "maintainer-bob"}
    body = json.dumps(payload).encode()
    reply = api.post("/webhooks/github", content=body, headers=headers_for("issues", body))
    assert store.get_event(reply.json()["event_id"]).event.trust == "maintainers"


def test_failing_resolver_stores_event_with_least_trust(
    store: RunStore, served: Served, headers_for: Callable[..., dict[str, str]]
) -> None:
    """A permission lookup that fails still stores the event, trusted as ``anyone``."""

    def broken(login: str) -> Any:
        raise ConnectionError(login)

    api = served(github_webhook_route(store, SecretStr(SECRET), trust_resolver=broken))
    payload = json.loads((WEBHOOKS / "issues.labeled.9.json").read_bytes())
    payload["sender"] = {**payload["sender"], "login": "maintainer-bob"}
    body = json.dumps(payload).encode()
    reply = api.post("/webhooks/github", content=body, headers=headers_for("issues", body))
    assert store.get_event(reply.json()["event_id"]).event.trust == "anyone"


def test_delivery_from_factory_bot_is_marked_by_factory(
    store: RunStore, served: Served, headers_for: Callable[..., dict[str, str]]
) -> None:
    """An event whose sender is one of the factory's logins is marked ``by_factory``."""
    api = served(github_webhook_route(store, SecretStr(SECRET), bot_logins=["codertocat"]))
    body = (WEBHOOKS / "issues.opened.15.json").read_bytes()
    reply = api.post("/webhooks/github", content=body, headers=headers_for("issues", body))
    assert store.get_event(reply.json()["event_id"]).event.by_factory is True


def test_route_refuses_non_positive_cap(store: RunStore) -> None:
    """A zero body cap is a configuration mistake and raises ValueError."""
    with pytest.raises(ValueError, match="max_body"):
        github_webhook_route(store, SecretStr(SECRET), max_body=0)


def test_logs_carry_neither_signature_nor_body(
    store: RunStore, client: httpx.Client, headers_for: Callable[..., dict[str, str]]
) -> None:
    """Accepted and rejected deliveries are logged by reason, never with body or signature."""
    body = (WEBHOOKS / "issues.opened.15.json").read_bytes()
    good = headers_for("issues", body)
    bad = {**good, "X-Hub-Signature-256": "sha256=" + "1" * 64}
    with structlog.testing.capture_logs() as logs:
        client.post("/webhooks/github", content=body, headers=good)
        client.post("/webhooks/github", content=body, headers=bad)
    text = repr([e for e in logs if e["event"].startswith("webhook_")])
    leaked = [s for s in (good["X-Hub-Signature-256"][7:], "1" * 64, "Codertocat") if s in text]
    assert ([e["event"] for e in logs if e["event"].startswith("webhook_")], leaked) == (
        ["webhook_received", "webhook_rejected"],
        [],
    )
