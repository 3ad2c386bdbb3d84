"""Tests that kill mutants `make mutants` found alive in the github_webhooks module.

Equivalent mutants (no observable difference), by name under ``factory.sources.github_webhooks.``:

- ``xǁ_RejectedErrorǁ__init____mutmut_3`` (``super().__init__(None)``): the exception never
  leaves the module; its ``args``/``str`` are never read, only ``status`` and ``reason``.
- ``x_github_webhook_route__mutmut_26``/``_28`` (delivery default None) and ``_34``/``_36``
  (event default None): a missing header is only tested with ``not`` and logged as
  ``x or None``, where "" and None behave the same.
- ``x_github_webhook_route__mutmut_30``/``_38``, ``x__check_signature__mutmut_4``/``_9``,
  ``x__read_capped__mutmut_4`` (header names upper-cased): Starlette's ``Headers.get`` is
  case-insensitive.
- ``x_github_webhook_route__mutmut_81`` (ping reply without ``status_code=200``): 200 is
  JSONResponse's default.
- ``x_github_webhook_route__mutmut_170`` (``methods=["post"]``): Starlette's Route upper-cases
  the methods it is given.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog.testing
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Route

from factory.config.harness import TrustPolicy
from factory.events import Trust
from factory.sources.github_webhooks import github_webhook_route, signature_ok
from factory.store import RunStore
from tests.conftest import static_trust

WEBHOOKS = Path(__file__).resolve().parents[1] / "data" / "github-webhooks"
SECRET = "It's a Secret to Everybody"
OURS = "Codertocat/Hello-World"
PATH = "/webhooks/github"

Served = Callable[[Route], httpx.Client]
Headers = Callable[..., dict[str, str]]


def _body(name: str = "issues.opened.15.json") -> bytes:
    return (WEBHOOKS / name).read_bytes()


def _route(store: RunStore, **kwargs: Any) -> Route:
    return github_webhook_route(store, SecretStr(SECRET), **kwargs)


def _without(headers: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in names}


def _asgi_post(route: Route, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, Any]:
    """POST ``chunks`` (one ASGI ``http.request`` message each) to ``route`` as an ASGI server
    would; returns (status, JSON reply). Used only where uvicorn itself would not let the
    request through (a non-numeric Content-Length) or would merge the chunks."""
    app = Starlette(routes=[route])
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body)


def _logged(logs: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


# --- signature_ok -------------------------------------------------------------------------


def test_signature_ok_is_false_without_a_header() -> None:
    """No signature header at all is not a valid signature."""
    assert signature_ok(b"key", b"body", None) is False


def test_signature_ok_is_false_for_a_malformed_header() -> None:
    """A header that is not ``sha256=<64 hex>`` is not a valid signature."""
    assert signature_ok(b"key", b"body", "sha1=" + "a" * 40) is False


# --- route construction -------------------------------------------------------------------


def test_route_is_named_github_webhook(store: RunStore) -> None:
    """The route is registered under the name ``github_webhook`` at its path."""
    app = Starlette(routes=[_route(store)])
    assert app.url_path_for("github_webhook") == PATH


def test_route_accepts_a_one_byte_cap_and_enforces_it(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A cap of one byte is valid; a two-byte body then gets 413."""
    client = served(_route(store, max_body=1))
    reply = client.post(PATH, content=b"{}", headers=headers_for("issues", b"{}"))
    assert (reply.status_code, reply.json()) == (413, {"error": "body_too_large"})


def test_missing_secret_is_logged_once_with_path_and_effect(store: RunStore) -> None:
    """A route built without a secret logs an error naming its path and its effect."""
    with structlog.testing.capture_logs() as logs:
        github_webhook_route(store, None, path="/hooks/gh")
    assert _logged(logs, "webhook_secret_missing") == [
        {
            "event": "webhook_secret_missing",
            "log_level": "error",
            "path": "/hooks/gh",
            "effect": "every delivery refused",
        }
    ]


def test_configured_secret_logs_no_missing_secret_error(store: RunStore) -> None:
    """A route built with a secret does not claim the secret is missing."""
    with structlog.testing.capture_logs() as logs:
        _route(store)
    assert _logged(logs, "webhook_secret_missing") == []


# --- refusals: status and reason ----------------------------------------------------------


def test_route_without_secret_answers_no_secret_configured(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """With no secret every delivery gets 401 ``no_secret_configured``, even a signed one."""
    client = served(github_webhook_route(store, None))
    body = _body()
    reply = client.post(PATH, content=body, headers=headers_for("issues", body))
    assert (reply.status_code, reply.json()) == (401, {"error": "no_secret_configured"})


def test_missing_signature_is_refused_as_missing_signature(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A delivery with no signature header at all gets 401 ``missing_signature``."""
    client = served(_route(store))
    body = _body()
    headers = _without(headers_for("issues", body), "X-Hub-Signature-256")
    reply = client.post(PATH, content=body, headers=headers)
    assert (reply.status_code, reply.json()) == (401, {"error": "missing_signature"})


def test_sha1_only_signature_is_refused_as_sha1_signature_only(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A delivery signed only with SHA-1 gets 401 ``sha1_signature_only``."""
    client = served(_route(store))
    body = _body()
    headers = {
        **_without(headers_for("issues", body), "X-Hub-Signature-256"),
        "X-Hub-Signature": "sha1=" + "a" * 40,
    }
    reply = client.post(PATH, content=body, headers=headers)
    assert (reply.status_code, reply.json()) == (401, {"error": "sha1_signature_only"})


def test_malformed_signature_is_refused_as_malformed_signature(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A signature header without the ``sha256=`` prefix gets 401 ``malformed_signature``."""
    client = served(_route(store))
    body = _body()
    headers = headers_for("issues", body)
    headers["X-Hub-Signature-256"] = headers["X-Hub-Signature-256"][7:]
    reply = client.post(PATH, content=body, headers=headers)
    assert (reply.status_code, reply.json()) == (401, {"error": "malformed_signature"})


def test_wrong_signature_is_refused_as_signature_mismatch(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A well-formed signature that does not match the body gets 401 ``signature_mismatch``."""
    client = served(_route(store))
    body = _body()
    headers = {**headers_for("issues", body), "X-Hub-Signature-256": "sha256=" + "0" * 64}
    reply = client.post(PATH, content=body, headers=headers)
    assert (reply.status_code, reply.json()) == (401, {"error": "signature_mismatch"})


@pytest.mark.parametrize("header", ["X-GitHub-Event", "X-GitHub-Delivery"])
def test_signed_delivery_missing_a_github_header_gets_400(
    header: str, store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A signed delivery lacking its event or delivery header gets 400 and is not stored."""
    client = served(_route(store))
    body = _body()
    reply = client.post(PATH, content=body, headers=_without(headers_for("issues", body), header))
    assert (reply.status_code, reply.json(), store.undispatched_events()) == (
        400,
        {"error": "missing_event_or_delivery_header"},
        [],
    )


def test_signed_invalid_json_is_refused_as_invalid_json(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A signed body that is not JSON at all gets 400 ``invalid_json``."""
    client = served(_route(store))
    body = b"{not json"
    reply = client.post(PATH, content=body, headers=headers_for("issues", body))
    assert (reply.status_code, reply.json()) == (400, {"error": "invalid_json"})


def test_signed_json_array_is_refused_as_payload_not_an_object(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A signed JSON body that is not an object gets 400 ``payload_not_an_object``."""
    client = served(_route(store))
    body = b"[1, 2, 3]"
    reply = client.post(PATH, content=body, headers=headers_for("issues", body))
    assert (reply.status_code, reply.json()) == (400, {"error": "payload_not_an_object"})


# --- the body cap ---------------------------------------------------------------------------


def test_body_over_cap_by_content_length_is_refused_as_body_too_large(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A body whose Content-Length exceeds the cap gets 413 ``body_too_large``."""
    client = served(_route(store, max_body=1000))
    body = _body()
    reply = client.post(PATH, content=body, headers=headers_for("issues", body))
    assert (reply.status_code, reply.json()) == (413, {"error": "body_too_large"})


def test_declared_oversized_body_is_refused_before_it_is_sent(
    store: RunStore, served: Served
) -> None:
    """A Content-Length over the cap is answered 413 at once, without waiting for the body."""
    client = served(_route(store, max_body=1000))
    url = client.base_url
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {url.host}\r\nContent-Length: 100000\r\n"
        "X-GitHub-Event: issues\r\nX-GitHub-Delivery: d-big\r\n"
        f"X-Hub-Signature-256: sha256={'0' * 64}\r\n\r\n{{"
    ).encode()
    with socket.create_connection((url.host, url.port or 80), timeout=5) as conn:
        conn.sendall(head)
        status_line = conn.recv(4096).split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"


def test_body_exactly_at_cap_with_content_length_is_accepted(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A body of exactly ``max_body`` bytes, declared by Content-Length, is stored."""
    body = _body()
    client = served(_route(store, max_body=len(body)))
    reply = client.post(PATH, content=body, headers=headers_for("issues", body))
    assert (reply.status_code, reply.json()["duplicate"]) == (202, False)


def test_chunked_body_exactly_at_cap_is_accepted(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A body of exactly ``max_body`` bytes sent without Content-Length is stored."""
    body = _body()
    client = served(_route(store, max_body=len(body)))
    reply = client.post(
        PATH, content=iter([body[:100], body[100:]]), headers=headers_for("issues", body)
    )
    assert (reply.request.headers.get("content-length"), reply.status_code) == (None, 202)


def test_chunked_body_over_cap_is_refused_as_body_too_large(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A body over the cap sent without Content-Length gets 413 ``body_too_large``."""
    body = _body()
    client = served(_route(store, max_body=1000))
    reply = client.post(PATH, content=iter([body]), headers=headers_for("issues", body))
    assert (reply.request.headers.get("content-length"), reply.status_code, reply.json()) == (
        None,
        413,
        {"error": "body_too_large"},
    )


def test_small_chunks_adding_up_over_the_cap_get_413(store: RunStore, headers_for: Headers) -> None:
    """Chunks each under the cap but together over it are counted in total and refused."""
    body = _body()
    chunks = [body[i : i + 256] for i in range(0, len(body), 256)]
    headers = _without(headers_for("issues", body), "Content-Length")
    assert _asgi_post(_route(store, max_body=1000), headers, chunks) == (
        413,
        {"error": "body_too_large"},
    )


def test_non_numeric_content_length_gets_400(store: RunStore, headers_for: Headers) -> None:
    """A Content-Length that is not a number (which uvicorn itself refuses) gets 400."""
    body = _body()
    headers = {**headers_for("issues", body), "Content-Length": "12abc"}
    assert _asgi_post(_route(store), headers, [body]) == (400, {"error": "bad_content_length"})


# --- ping -----------------------------------------------------------------------------------


def test_ping_replies_ping_ok(store: RunStore, served: Served, headers_for: Headers) -> None:
    """GitHub's ping gets exactly ``{"ping": "ok"}`` with 200."""
    client = served(_route(store))
    body = b'{"zen": "Design for failure.", "hook_id": 1}'
    reply = client.post(PATH, content=body, headers=headers_for("ping", body))
    assert (reply.status_code, reply.json()) == (200, {"ping": "ok"})


def test_ping_is_logged_with_its_delivery(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A ping is logged as ``webhook_ping`` naming its delivery id."""
    client = served(_route(store))
    body = b'{"zen": "Design for failure.", "hook_id": 1}'
    with structlog.testing.capture_logs() as logs:
        client.post(PATH, content=body, headers=headers_for("ping", body, delivery="d-ping"))
    assert _logged(logs, "webhook_ping") == [
        {"event": "webhook_ping", "log_level": "info", "delivery": "d-ping"}
    ]


# --- log lines --------------------------------------------------------------------------------


def test_rejection_is_logged_with_reason_status_event_and_delivery(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A refused delivery is logged as ``webhook_rejected`` with why, status, event, delivery."""
    client = served(_route(store))
    body = _body()
    headers = {
        **headers_for("issues", body, delivery="d-bad"),
        "X-Hub-Signature-256": "sha256=" + "0" * 64,
    }
    with structlog.testing.capture_logs() as logs:
        client.post(PATH, content=body, headers=headers)
    assert _logged(logs, "webhook_rejected") == [
        {
            "event": "webhook_rejected",
            "log_level": "warning",
            "reason": "signature_mismatch",
            "status": 401,
            "github_event": "issues",
            "delivery": "d-bad",
        }
    ]


def test_rejection_without_github_headers_logs_them_as_none(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A refused delivery lacking event and delivery headers logs both fields as None."""
    client = served(_route(store))
    body = _body()
    headers = _without(headers_for("issues", body), "X-GitHub-Event", "X-GitHub-Delivery")
    with structlog.testing.capture_logs() as logs:
        client.post(PATH, content=body, headers=headers)
    assert _logged(logs, "webhook_rejected") == [
        {
            "event": "webhook_rejected",
            "log_level": "warning",
            "reason": "missing_event_or_delivery_header",
            "status": 400,
            "github_event": None,
            "delivery": None,
        }
    ]


def test_accepted_delivery_is_logged_with_event_action_delivery_and_id(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A stored delivery is logged as ``webhook_received`` with its event, action and id."""
    client = served(_route(store))
    body = _body()
    with structlog.testing.capture_logs() as logs:
        reply = client.post(PATH, content=body, headers=headers_for("issues", body, delivery="d-1"))
    assert _logged(logs, "webhook_received") == [
        {
            "event": "webhook_received",
            "log_level": "info",
            "github_event": "issues",
            "action": "opened",
            "delivery": "d-1",
            "event_id": reply.json()["event_id"],
            "duplicate": False,
        }
    ]


def test_redelivery_is_logged_as_duplicate(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """The second delivery of one event is logged with ``duplicate`` True, the first False."""
    client = served(_route(store))
    body = _body()
    headers = headers_for("issues", body, delivery="d-2")
    with structlog.testing.capture_logs() as logs:
        client.post(PATH, content=body, headers=headers)
        client.post(PATH, content=body, headers=headers)
    assert [e["duplicate"] for e in _logged(logs, "webhook_received")] == [False, True]


def test_failed_trust_lookup_is_logged_with_delivery_and_error_type(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A resolver that raises is logged as ``trust_lookup_failed`` with the exception's type."""

    def broken(login: str) -> Trust:
        raise ConnectionError(login)

    client = served(_route(store, trust_resolver=broken))
    payload = json.loads(_body("issues.labeled.9.json"))
    payload["sender"] = {**payload["sender"], "login": "maintainer-bob"}
    body = json.dumps(payload).encode()
    with structlog.testing.capture_logs() as logs:
        client.post(PATH, content=body, headers=headers_for("issues", body, delivery="d-3"))
    assert _logged(logs, "trust_lookup_failed") == [
        {
            "event": "trust_lookup_failed",
            "log_level": "warning",
            "delivery": "d-3",
            "error": "ConnectionError",
        }
    ]


def test_foreign_delivery_is_logged_as_ignored_with_reason(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A delivery about another repository is logged as ``webhook_ignored`` with the reason."""
    client = served(_route(store, repository=OURS))
    payload = json.loads(_body())
    payload["repository"] = {**payload["repository"], "full_name": "evil/other"}
    body = json.dumps(payload).encode()
    with structlog.testing.capture_logs() as logs:
        client.post(PATH, content=body, headers=headers_for("issues", body, delivery="d-4"))
    assert _logged(logs, "webhook_ignored") == [
        {
            "event": "webhook_ignored",
            "log_level": "warning",
            "delivery": "d-4",
            "github_event": "issues",
            "reason": f"delivery is for repository 'evil/other', this factory serves {OURS!r}",
        }
    ]


# --- trust --------------------------------------------------------------------------------


def test_sender_who_authored_the_issue_gets_trust_from_association(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """An OWNER who opened the issue is trusted as maintainers under the default policy."""
    client = served(_route(store))
    body = _body()
    reply = client.post(PATH, content=body, headers=headers_for("issues", body))
    assert store.get_event(reply.json()["event_id"]).event.trust == "maintainers"


def test_configured_trust_policy_maps_the_association(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A configured policy, not the default one, decides what the sender's association is worth."""
    policy = TrustPolicy(associations={"OWNER": "collaborators"})
    client = served(_route(store, trust_policy=policy))
    body = _body()
    reply = client.post(PATH, content=body, headers=headers_for("issues", body))
    assert store.get_event(reply.json()["event_id"]).event.trust == "collaborators"


def test_foreign_sender_is_not_looked_up_and_gets_least_trust(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """For another repository's delivery the resolver is never asked; the trust is ``anyone``."""
    asked: list[str] = []
    admin = static_trust({"maintainer-bob": "admin"})

    def resolver(login: str) -> Trust:
        asked.append(login)
        return admin(login)

    client = served(_route(store, repository=OURS, trust_resolver=resolver))
    payload = json.loads(_body("issues.labeled.9.json"))
    payload["sender"] = {**payload["sender"], "login": "maintainer-bob"}
    payload["repository"] = {**payload["repository"], "full_name": "evil/other"}
    body = json.dumps(payload).encode()
    reply = client.post(PATH, content=body, headers=headers_for("issues", body))
    assert (store.get_event(reply.json()["event_id"]).event.trust, asked) == ("anyone", [])


# --- foreign deliveries and membership ----------------------------------------------------


def test_two_different_foreign_changes_are_two_events(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """Label changes on two different issues of another repository are not duplicates."""
    client = served(_route(store, repository=OURS))
    replies = []
    for number in (1, 2):
        payload = json.loads(_body("issues.labeled.9.json"))
        payload["issue"] = {**payload["issue"], "number": number}
        payload["repository"] = {**payload["repository"], "full_name": "evil/other"}
        body = json.dumps(payload).encode()
        replies.append(client.post(PATH, content=body, headers=headers_for("issues", body)).json())
    assert [r["duplicate"] for r in replies] == [False, False]


def test_non_membership_delivery_keeps_cached_permissions(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """An ``issues`` delivery does not call ``on_membership``."""
    dropped: list[int] = []
    client = served(_route(store, on_membership=lambda: dropped.append(1)))
    body = _body()
    client.post(PATH, content=body, headers=headers_for("issues", body))
    assert dropped == []
