"""``POST /slack/events``: Slack's HTTP mode, verified here, then handed to the bolt App.

Order of checks, each answering before the next runs: no signing secret configured → 401
for everything (fail closed); ``X-Slack-Request-Timestamp`` missing, not an integer, or
more than 5 minutes from now (either way: a replay) → 401; ``X-Slack-Signature`` missing
or not ``v0=<64 hex>`` → 401; body over the cap → 413, judged by Content-Length and then
by counting while reading; HMAC-SHA256 of ``v0:TIMESTAMP:BODY`` not matching (constant
time) → 401. Only then is the body parsed: ``url_verification`` is answered 200 with its
``challenge``; anything else goes to the bolt App (factory.sources.slack), whose listeners
commit the Event before the answer goes out. A retry (``X-Slack-Retry-Num``) is handled
like the first delivery: the store's dedup key makes it no second event.
Logs name the reason, the retry number and the status — never the body or a header value.
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
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from factory.sources.http_body import RejectedError as _RejectedError
from factory.sources.http_body import check_fresh, header_value
from factory.sources.http_body import read_capped as _read_capped
from factory.sources.slack import SlackSource

log = structlog.get_logger(__name__)

DEFAULT_MAX_BODY = 1024 * 1024
"""Events API bodies are a few kB (a 40,000-character message with blocks stays far below)."""
MAX_AGE_S = 300
"""Slack's replay window: a request whose timestamp is further from now is refused."""

_SIGNATURE = re.compile(r"v0=([0-9a-f]{64})")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def slack_signature_ok(secret: bytes, timestamp: str, body: bytes, header: str | None) -> bool:
    """Return True when ``header`` is ``v0=<hex>`` of HMAC-SHA256(secret, "v0:TS:BODY").

    Compares in constant time. Returns False for a missing or malformed header.
    """
    match = _SIGNATURE.fullmatch(header.strip()) if header else None
    if match is None:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = hmac.new(secret, base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, match.group(1))


def slack_events_route(
    source: SlackSource,
    secret: SecretStr | None,
    *,
    path: str = "/slack/events",
    max_body: int = DEFAULT_MAX_BODY,
    clock: Callable[[], float] = time.time,
) -> Route:
    """Return the Starlette route that receives Slack's Events API requests for ``source``.

    ``secret`` None or empty makes the route refuse every request (401); ``clock`` gives
    the time the timestamp is judged against. Raises ValueError for a non-positive
    ``max_body``.
    """
    if max_body <= 0:
        raise ValueError(f"max_body must be positive, got {max_body}")
    key = secret.get_secret_value().encode() if secret is not None else b""
    if not key:
        log.error("slack_signing_secret_missing", path=path, effect="every request refused")

    async def receive(request: Request) -> Response:
        retry = request.headers.get("x-slack-retry-num")
        try:
            if not key:
                raise _RejectedError(401, "no_signing_secret_configured")
            timestamp = _check_timestamp(request.headers, clock())
            signature = _signature_header(request.headers)
            body = await _read_capped(request, max_body)
            if not slack_signature_ok(key, timestamp, body, signature):
                raise _RejectedError(401, "signature_mismatch")
            challenge = _challenge(body, request.headers.get("content-type", ""))
        except _RejectedError as rejected:
            log.warning(
                "slack_request_rejected",
                reason=rejected.reason,
                status=rejected.status,
                retry=retry,
            )
            return JSONResponse({"error": rejected.reason}, status_code=rejected.status)
        if challenge is not None:
            log.info("slack_url_verified")
            return JSONResponse({"challenge": challenge}, status_code=200)
        bolt_request = BoltRequest(
            body=body.decode("utf-8"),
            query=request.url.query,
            headers={k: [v] for k, v in request.headers.items()},
            mode="http",
        )
        answer: BoltResponse = await run_in_threadpool(source.app.dispatch, bolt_request)
        if answer.status >= 300:
            log.warning("slack_request_failed", status=answer.status, retry=retry)
        return Response(
            content=answer.body,
            status_code=answer.status,
            headers={k: v[0] for k, v in answer.headers.items() if v and k != "content-length"},
        )

    return Route(path, receive, methods=["POST"], name="slack_events")


def _check_timestamp(headers: Mapping[str, str], now: float) -> str:
    """Return X-Slack-Request-Timestamp; raises _RejectedError(401) if absent, bad or stale
    (Slack's rule: more than 5 minutes from now either way)."""
    value = header_value(headers, "x-slack-request-timestamp", _TIMESTAMP, "timestamp")
    check_fresh(int(value), now, max_age_s=MAX_AGE_S, max_ahead_s=MAX_AGE_S)
    return value


def _signature_header(headers: Mapping[str, str]) -> str:
    """Return X-Slack-Signature; raises _RejectedError(401) when missing or malformed."""
    return header_value(headers, "x-slack-signature", _SIGNATURE, "signature")


def _challenge(body: bytes, content_type: str) -> str | None:
    """Return the ``challenge`` of a url_verification body, None for any other request.

    Raises _RejectedError(400) for a JSON body that is not a JSON object, or a body that
    is not UTF-8 (bolt reads text).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _RejectedError(400, "body_not_utf8") from None
    if not content_type.startswith("application/json"):
        return None  # form-encoded (interactivity, commands): bolt parses it
    try:
        payload: Any = json.loads(text)
    except json.JSONDecodeError:
        raise _RejectedError(400, "invalid_json") from None
    if not isinstance(payload, dict):
        raise _RejectedError(400, "payload_not_an_object")
    if payload.get("type") != "url_verification":
        return None
    challenge = payload.get("challenge")
    if not isinstance(challenge, str):
        raise _RejectedError(400, "challenge_not_a_string")
    return challenge
