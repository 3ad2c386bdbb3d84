"""FakeSentry's HTTP side: Bearer auth, rate limits, injected 429s, JSON answers, the call log.

Every answer (errors too) carries ``X-Sentry-Rate-Limit-Limit``, ``-Remaining``, ``-Reset``
(epoch seconds of the next window), ``-ConcurrentLimit`` and ``-ConcurrentRemaining``
(docs/api/ratelimits.mdx). Limits are per endpoint in fixed windows (default 40 requests a
second, as Sentry's default); past it Sentry's middleware answers 429
``{"detail": "You are attempting to use this endpoint too frequently. Limit is N requests in
W seconds"}`` with ``Remaining: 0``. ``rate_limit_next`` queues the same 429 with a
``Retry-After`` for the next calls under a path prefix. Auth: ``Authorization: Bearer <token>``;
none → 401 ``Authentication credentials were not provided.``, a wrong one → 401
``Invalid token``.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from factory.testing.sentry_routes import Request, route
from factory.testing.sentry_state import NOT_FOUND, Org, SentryApiError

PREFIX = "/api/0/"
CONCURRENT_LIMIT = 25
Call = tuple[str, str, dict[str, list[str]]]


def throttled(limit: int, window: int) -> dict[str, str]:
    """Return Sentry's 429 body for a spent window."""
    return {
        "detail": "You are attempting to use this endpoint too frequently. "
        f"Limit is {limit} requests in {window} seconds"
    }


@dataclass
class Limits:
    """Fixed-window counters per endpoint and the queued 429s."""

    limit: int = 40
    window: int = 1
    counts: dict[tuple[str, int], int] = field(default_factory=dict)
    queued: list[tuple[str, int]] = field(default_factory=list)
    in_flight: int = 0

    def take_queued(self, path: str) -> int | None:
        """Return and consume the Retry-After of the first 429 queued for ``path``."""
        for n, (prefix, retry_after) in enumerate(self.queued):
            if path.startswith(prefix):
                del self.queued[n]
                return retry_after
        return None

    def spend(self, endpoint: str, now: float) -> tuple[dict[str, str], bool]:
        """Count one request of ``endpoint``; return its headers and whether it is over."""
        bucket = int(now // self.window)
        used = self.counts.get((endpoint, bucket), 0) + 1
        self.counts[(endpoint, bucket)] = used
        reset = (bucket + 1) * self.window
        headers = {
            "X-Sentry-Rate-Limit-Limit": str(self.limit),
            "X-Sentry-Rate-Limit-Remaining": str(max(0, self.limit - used)),
            "X-Sentry-Rate-Limit-Reset": str(reset),
            "X-Sentry-Rate-Limit-ConcurrentLimit": str(CONCURRENT_LIMIT),
            "X-Sentry-Rate-Limit-ConcurrentRemaining": str(
                max(0, CONCURRENT_LIMIT - self.in_flight)
            ),
        }
        return headers, used > self.limit


@dataclass
class Api:
    """Everything the HTTP handler needs: the org, the token, limits and the call log."""

    org: Org
    token: str
    limits: Limits = field(default_factory=Limits)
    calls: list[Call] = field(default_factory=list)
    flight: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, req: Request, path: str, token: str | None) -> tuple[int, Any, dict[str, str]]:
        """Run one request (``path`` below /api/0/) and return (status, body, headers)."""
        now = time.time()
        with self.org.lock:
            query: dict[str, list[str]] = {}
            for k, v in req.params:
                query.setdefault(k, []).append(v)
            self.calls.append((req.method, PREFIX + path, query))
            found = route(path)
            endpoint = found[0] if found else "unknown"
            headers, over = self.limits.spend(f"{req.method} {endpoint}", now)
            retry_after = self.limits.take_queued(path)
            if retry_after is not None:
                headers["X-Sentry-Rate-Limit-Remaining"] = "0"
                headers["X-Sentry-Rate-Limit-Reset"] = str(math.ceil(now + retry_after))
                headers["Retry-After"] = str(retry_after)
                return 429, throttled(self.limits.limit, self.limits.window), headers
            if over:
                return 429, throttled(self.limits.limit, self.limits.window), headers
            if not token:
                return 401, {"detail": "Authentication credentials were not provided."}, headers
            if token != self.token:
                return 401, {"detail": "Invalid token"}, headers
            if found is None:
                return 404, {"detail": NOT_FOUND}, headers
            _, methods, handler, captures = found
            if req.method not in methods:
                return 405, {"detail": f'Method "{req.method}" not allowed.'}, headers
            try:
                status, body, extra = handler(self.org, req, captures)
            except SentryApiError as exc:
                return exc.status, exc.body, headers
            return status, body, {**headers, **extra}


def make_server(api: Api) -> ThreadingHTTPServer:
    """Return an unstarted HTTP server on 127.0.0.1:0 answering ``/api/0/…``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def do_PUT(self) -> None:
            self._dispatch()

        def do_DELETE(self) -> None:
            self._dispatch()

        def _bearer(self) -> str | None:
            scheme, _, value = self.headers.get("Authorization", "").partition(" ")
            return value.strip() if scheme.lower() == "bearer" and value.strip() else None

        def _dispatch(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not url.path.startswith(PREFIX):
                self._send(404, {"detail": NOT_FOUND}, {})
                return
            host = self.headers.get("Host") or "127.0.0.1"
            req = Request(
                self.command,
                f"http://{host}{url.path}",
                parse_qsl(url.query, keep_blank_values=True),
                raw,
            )
            with api.flight:
                api.limits.in_flight += 1
            try:
                status, body, headers = api.answer(req, url.path[len(PREFIX) :], self._bearer())
            finally:
                with api.flight:
                    api.limits.in_flight -= 1
            self._send(status, body, headers)

        def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Request-Id", uuid.uuid4().hex)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)
