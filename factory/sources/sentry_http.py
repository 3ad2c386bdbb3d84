"""``POST /webhooks/sentry``: signed deliveries of a Sentry internal integration, stored.

Order of checks, each answering before the next runs, all before the body is parsed: no
client secret configured → 401 for everything (fail closed); ``Sentry-Hook-Timestamp``
missing, not a number, older than 5 minutes or further ahead than a small clock skew →
401 (a replay); ``Sentry-Hook-Signature`` missing or not 64 hex digits → 401; body over the
cap → 413, judged by Content-Length and then by counting while reading; HMAC-SHA256 of the
raw body keyed with the client secret not matching (constant time) → 401. Only then is the
JSON parsed and turned into an Event (factory.sources.sentry), committed to the store
*before* the 2xx goes out (202 ``{"event_id", "duplicate"}``), so an acknowledged delivery
is never lost and a redelivery finds its dedup key taken. ``installation`` and every other
resource or action answer 200 and store nothing (logged).
Logs name the resource, action, Request-ID and reason — never the body or the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from factory.events import Event
from factory.sources.http_body import RejectedError, check_fresh, header_value, read_capped
from factory.sources.sentry import webhook_event
from factory.store.event_log import EventLog

log = structlog.get_logger(__name__)

DEFAULT_MAX_BODY = 1024 * 1024
"""Sentry's webhook bodies (an event with its stack trace) stay far below 1 MB."""
MAX_AGE_S = 300
"""A delivery whose ``Sentry-Hook-Timestamp`` is older than this is a replay."""
MAX_SKEW_S = 30
"""How far ahead of our clock a timestamp may be (the sender's clock may run fast)."""

_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")


def sentry_signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    """Return True when ``header`` is the hex HMAC-SHA256 of ``body`` keyed with ``secret``.

    Compares in constant time. Returns False for a missing or malformed header.
    """
    value = header.strip() if header else ""
    if _SIGNATURE.fullmatch(value) is None:
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, value.lower())


def sentry_webhook_route(
    store: EventLog,
    secret: SecretStr | None,
    *,
    path: str = "/webhooks/sentry",
    max_body: int = DEFAULT_MAX_BODY,
    clock: Callable[[], float] = time.time,
    on_stored: Callable[[], None] | None = None,
) -> Route:
    """Return the Starlette route that receives Sentry webhook deliveries into ``store``.

    ``secret`` (the integration's client secret) None or empty makes the route refuse every
    delivery (401); ``clock`` gives the time timestamps are judged against; ``on_stored`` is
    called after a new event is committed. Raises ValueError for a non-positive ``max_body``.
    """
    if max_body <= 0:
        raise ValueError(f"max_body must be positive, got {max_body}")
    key = secret.get_secret_value().encode() if secret is not None else b""
    if not key:
        log.error("sentry_client_secret_missing", path=path, effect="every delivery refused")

    async def receive(request: Request) -> Response:
        resource = request.headers.get("sentry-hook-resource", "")
        request_id = request.headers.get("request-id", "")
        try:
            if not key:
                raise RejectedError(401, "no_client_secret_configured")
            _check_timestamp(request.headers, clock())
            signature = _signature_header(request.headers)
            body = await read_capped(request, max_body)
            if not sentry_signature_ok(key, body, signature):
                raise RejectedError(401, "signature_mismatch")
            if not resource or not request_id:
                raise RejectedError(400, "missing_resource_or_request_id")
            payload = _parse(body)
        except RejectedError as rejected:
            log.warning(
                "sentry_webhook_rejected",
                reason=rejected.reason,
                status=rejected.status,
                resource=resource or None,
                request_id=request_id or None,
            )
            return JSONResponse({"error": rejected.reason}, status_code=rejected.status)
        action = str(payload.get("action", ""))
        event = webhook_event(resource, payload, request_id)
        if event is None:
            log.info(
                "sentry_webhook_ignored", resource=resource, action=action, request_id=request_id
            )
            return JSONResponse({"ignored": f"{resource}.{action}"}, status_code=200)
        event_id, created = await run_in_threadpool(_store, store, event)
        if created and on_stored is not None:
            on_stored()
        log.info(
            "sentry_webhook_received",
            resource=resource,
            action=action,
            request_id=request_id,
            sentry_issue=event.subject.sentry_id if event.subject else None,
            event_id=event_id,
            duplicate=not created,
        )
        return JSONResponse({"event_id": event_id, "duplicate": not created}, status_code=202)

    return Route(path, receive, methods=["POST"], name="sentry_webhook")


def _store(store: EventLog, event: Event) -> tuple[int, bool]:
    return store.add_event(event)


def _check_timestamp(headers: Mapping[str, str], now: float) -> None:
    """Raise RejectedError(401) unless Sentry-Hook-Timestamp is recent (seconds, maybe with
    a fraction)."""
    value = header_value(headers, "sentry-hook-timestamp", _TIMESTAMP, "timestamp")
    check_fresh(float(value), now, max_age_s=MAX_AGE_S, max_ahead_s=MAX_SKEW_S)


def _signature_header(headers: Mapping[str, str]) -> str:
    """Return Sentry-Hook-Signature; raises RejectedError(401) when missing or malformed."""
    return header_value(headers, "sentry-hook-signature", _SIGNATURE, "signature")


def _parse(body: bytes) -> dict[str, Any]:
    """Return the JSON object in ``body``; raises RejectedError(400) for anything else."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RejectedError(400, "invalid_json") from None
    if not isinstance(payload, dict):
        raise RejectedError(400, "payload_not_an_object")
    return payload
