"""``POST /webhooks/github``: signed GitHub deliveries in, stored Events out.

Order of checks, each answering before the next runs: no secret configured → 401 for
everything (fail closed); body over the cap → 413, judged first by Content-Length and
then by counting while reading, before anything is parsed; ``X-Hub-Signature-256`` missing,
SHA-1 only, malformed or not matching an HMAC-SHA256 of the raw body → 401; then the JSON
is parsed and normalized, and the Event is committed to the store *before* the 2xx goes
out (202 ``{"event_id", "duplicate"}``), so an acknowledged delivery is never lost and a
redelivery finds its dedup key already stored. ``ping`` answers 200 and stores nothing.
A delivery about another repository (an organisation webhook, an App installed on several
repositories) is stored as *ignored*, with the reason, and never dispatched.
Logs name the delivery, event and reason — never the body or the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

import structlog
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from factory.config.harness import TrustPolicy
from factory.events import Trust
from factory.forge.normalize import foreign_key, foreign_repository, normalize
from factory.forge.trust import MEMBERSHIP_EVENTS, TrustResolver, sender_trust
from factory.sources.http_body import RejectedError as _RejectedError
from factory.sources.http_body import read_capped as _read_capped
from factory.store.event_log import EventLog

log = structlog.get_logger(__name__)

DEFAULT_MAX_BODY = 25 * 1024 * 1024
"""GitHub caps webhook payloads at 25 MB; nothing larger is a real delivery."""

_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    """Return True when ``header`` is ``sha256=<hex>`` of HMAC-SHA256(secret, body).

    Compares in constant time. Returns False for a missing or malformed header.
    """
    match = _SIGNATURE.fullmatch(header.strip()) if header else None
    if match is None:
        return False
    expected = hmac.new(secret, body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, bytes.fromhex(match.group(1)))


def github_webhook_route(
    store: EventLog,
    secret: SecretStr | None,
    *,
    path: str = "/webhooks/github",
    max_body: int = DEFAULT_MAX_BODY,
    trust_resolver: TrustResolver | None = None,
    trust_policy: TrustPolicy | None = None,
    repository: str | None = None,
    bot_logins: Collection[str] = (),
    on_stored: Callable[[], None] | None = None,
    on_membership: Callable[[], None] | None = None,
) -> Route:
    """Return the Starlette route that receives GitHub webhook deliveries into ``store``.

    ``secret`` None or empty makes the route refuse every delivery (401). ``trust_resolver``
    is asked for the sender's trust when the payload does not show it, ``trust_policy``
    maps roles (the policy's defaults when None); ``repository`` (``owner/name``) is the
    only repository whose deliveries are dispatched (None: any — the daemon always names
    it); ``bot_logins`` are the factory's own logins; ``on_stored`` is called after a new
    event is committed (the daemon wakes its dispatch loop); ``on_membership`` after a
    membership change (the daemon drops cached permissions). Raises ValueError for a
    non-positive ``max_body``.
    """
    policy = trust_policy or TrustPolicy()
    if max_body <= 0:
        raise ValueError(f"max_body must be positive, got {max_body}")
    key = secret.get_secret_value().encode() if secret is not None else b""
    if not key:
        log.error("webhook_secret_missing", path=path, effect="every delivery refused")

    async def receive(request: Request) -> Response:
        delivery = request.headers.get("x-github-delivery", "")
        event_name = request.headers.get("x-github-event", "")
        try:
            if not key:
                raise _RejectedError(401, "no_secret_configured")
            body = await _read_capped(request, max_body)
            _check_signature(key, body, request.headers)
            if not event_name or not delivery:
                raise _RejectedError(400, "missing_event_or_delivery_header")
            if event_name == "ping":
                log.info("webhook_ping", delivery=delivery)
                return JSONResponse({"ping": "ok"}, status_code=200)
            payload = _parse(body)
        except _RejectedError as rejected:
            log.warning(
                "webhook_rejected",
                reason=rejected.reason,
                status=rejected.status,
                github_event=event_name or None,
                delivery=delivery or None,
            )
            return JSONResponse({"error": rejected.reason}, status_code=rejected.status)
        if event_name in MEMBERSHIP_EVENTS and on_membership is not None:
            on_membership()
        event_id, created = await run_in_threadpool(
            _store,
            store,
            event_name,
            payload,
            delivery,
            trust_resolver,
            policy,
            bot_logins,
            repository,
        )
        if created and on_stored is not None:
            on_stored()
        log.info(
            "webhook_received",
            github_event=event_name,
            action=payload.get("action"),
            delivery=delivery,
            event_id=event_id,
            duplicate=not created,
        )
        return JSONResponse({"event_id": event_id, "duplicate": not created}, status_code=202)

    return Route(path, receive, methods=["POST"], name="github_webhook")


def _check_signature(key: bytes, body: bytes, headers: Mapping[str, str]) -> None:
    """Raise _RejectedError(401) unless X-Hub-Signature-256 signs ``body`` with ``key``."""
    header = headers.get("x-hub-signature-256")
    if header is None:
        only_sha1 = headers.get("x-hub-signature") is not None
        raise _RejectedError(401, "sha1_signature_only" if only_sha1 else "missing_signature")
    if _SIGNATURE.fullmatch(header.strip()) is None:
        raise _RejectedError(401, "malformed_signature")
    if not signature_ok(key, body, header):
        raise _RejectedError(401, "signature_mismatch")


def _parse(body: bytes) -> dict[str, Any]:
    """Return the JSON object in ``body``; raises _RejectedError(400) for anything else."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _RejectedError(400, "invalid_json") from None
    if not isinstance(payload, dict):
        raise _RejectedError(400, "payload_not_an_object")
    return payload


def _store(
    store: EventLog,
    event_name: str,
    payload: dict[str, Any],
    delivery: str,
    resolver: TrustResolver | None,
    policy: TrustPolicy,
    bot_logins: Collection[str],
    repository: str | None,
) -> tuple[int, bool]:
    """Normalize the delivery and commit it (as ignored when it is about another
    repository); returns (event id, created now)."""
    foreign = foreign_repository(payload, repository) if repository else None
    # No permission lookup for another repository's sender: it says nothing about ours.
    trust: Trust = "anyone" if foreign else _trust(event_name, payload, delivery, resolver, policy)
    event = normalize(event_name, payload, delivery, trust=trust, bot_logins=bot_logins)
    if foreign:
        log.warning("webhook_ignored", delivery=delivery, github_event=event_name, reason=foreign)
        event = event.model_copy(update={"dedup_key": foreign_key(event.dedup_key, payload)})
    return store.add_event(event, ignored=foreign)


def _trust(
    event_name: str,
    payload: dict[str, Any],
    delivery: str,
    resolver: TrustResolver | None,
    policy: TrustPolicy,
) -> Trust:
    """Return the sender's trust; ``anyone`` when the resolver fails.

    Why the broad except: GitHub does not redeliver failed deliveries by itself, so a
    failed permission lookup must not lose the event; the least trust is the safe answer
    and the dispatcher re-checks approvals against the issue's history anyway.
    """
    try:
        return sender_trust(event_name, payload, policy=policy, resolver=resolver)
    except Exception as exc:
        log.warning("trust_lookup_failed", delivery=delivery, error=type(exc).__name__)
        return "anyone"
