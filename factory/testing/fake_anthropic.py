"""FakeAnthropic: a real Messages API server on 127.0.0.1 for tests, scripted per test.

Usage::

    with FakeAnthropic() as fake:
        fake.enqueue_text("hello")
        fake.enqueue_tool_use("bash", {"command": "ls"})
        fake.enqueue_error(529, "overloaded_error", "Overloaded")
        client = anthropic.Anthropic(api_key="k", base_url=fake.base_url)

Replies are served in order from the queue; when it is empty, ``fake.responder(body)`` is
asked; with neither, the request fails with a 500 that tells the SDK not to retry. Every
HTTP call is recorded in ``fake.calls`` (path, headers, body, status), every Messages request
body in ``fake.requests``. Usage (including prompt caching) is computed the way the real API
does it, see ``anthropic_cache``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from factory.testing.anthropic_cache import (
    CacheRequestError,
    PromptCache,
    approx_tokens,
    count_input_tokens,
)
from factory.testing.anthropic_sse import failed_stream_events, message_events
from factory.testing.served import LoopbackServer


@dataclass(frozen=True)
class FakeReply:
    """A scripted successful reply: content blocks and an optional stop reason."""

    content: list[dict[str, Any]]
    stop_reason: str | None = None
    """Defaults to "tool_use" when a tool_use block is present, else "end_turn"."""


@dataclass(frozen=True)
class FakeError:
    """A scripted error reply, shaped like the API's error body."""

    status: int
    error_type: str
    message: str
    retry_after: float | None = None
    """Seconds sent in the ``retry-after`` header, if any."""
    should_retry: bool | None = None
    """Value of the ``x-should-retry`` header, if any."""
    in_stream: bool = False
    """For streaming requests: answer 200 and fail with an SSE ``error`` event instead."""


Reply = FakeReply | FakeError | list[dict[str, Any]]
Responder = Callable[[dict[str, Any]], Reply]


@dataclass(frozen=True)
class RecordedCall:
    """One HTTP request the fake received and the status it answered."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: Any
    status: int


def spend_limit_error() -> FakeError:
    """Return the error the API sends when the organisation's credit balance is exhausted."""
    return FakeError(
        400,
        "invalid_request_error",
        "Your credit balance is too low to access the Anthropic API. "
        "Please go to Plans & Billing to upgrade or purchase credits.",
    )


class FakeAnthropic(LoopbackServer):
    """A Messages API server in a background thread; use as a context manager."""

    thread_name = "fake-anthropic"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        min_cacheable_tokens: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Prepare the server; ``api_key`` if given is the only key accepted (else any)."""
        super().__init__()
        self.api_key = api_key
        self.cache = PromptCache(clock or time.monotonic, min_cacheable_tokens)
        self.responder: Responder | None = None
        self.requests: list[dict[str, Any]] = []
        self.calls: list[RecordedCall] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # -- lifecycle ---------------------------------------------------------------------------

    def _make_server(self) -> ThreadingHTTPServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        return ThreadingHTTPServer(("127.0.0.1", 0), handler)

    @property
    def base_url(self) -> str:
        """The server's URL, e.g. ``http://127.0.0.1:43121``. Raises RuntimeError if stopped."""
        return f"http://127.0.0.1:{self.port}"

    # -- scripting ---------------------------------------------------------------------------

    def enqueue(self, reply: Reply) -> None:
        """Queue one reply: a list of content blocks, a FakeReply or a FakeError."""
        with self._lock:
            self._queue.append(reply)

    def enqueue_text(self, text: str, *, stop_reason: str | None = None) -> None:
        """Queue a reply with one text block."""
        self.enqueue(FakeReply([{"type": "text", "text": text}], stop_reason))

    def enqueue_tool_use(
        self, name: str, input: Mapping[str, Any], *, text: str | None = None
    ) -> None:
        """Queue a reply that calls tool ``name`` with ``input`` (after optional text)."""
        blocks: list[dict[str, Any]] = [] if text is None else [{"type": "text", "text": text}]
        blocks.append({"type": "tool_use", "name": name, "input": dict(input)})
        self.enqueue(FakeReply(blocks))

    def enqueue_error(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        retry_after: float | None = None,
        should_retry: bool | None = None,
        in_stream: bool = False,
    ) -> None:
        """Queue an error reply (e.g. 429 rate_limit_error, 529 overloaded_error)."""
        self.enqueue(FakeError(status, error_type, message, retry_after, should_retry, in_stream))

    def enqueue_spend_limit(self) -> None:
        """Queue the API's "credit balance is too low" error."""
        self.enqueue(spend_limit_error())

    @property
    def pending(self) -> int:
        """How many queued replies have not been served yet."""
        with self._lock:
            return len(self._queue)

    @property
    def api_keys(self) -> list[str]:
        """The credential each call carried (x-api-key or Authorization bearer), in order."""
        return [_credential(c.headers) or "" for c in self.calls]

    # -- serving (called from the handler threads) --------------------------------------------

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            responder = self.responder
        if responder is not None:
            return responder(body)
        return FakeError(500, "api_error", "FakeAnthropic: no reply scripted", should_retry=False)

    def _request_id(self) -> str:
        return f"req_fake_{next(self._ids):06d}"

    def _record(self, call: RecordedCall) -> None:
        with self._lock:
            self.calls.append(call)

    def _message(self, body: dict[str, Any], reply: FakeReply) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        for block in reply.content:
            block = dict(block)
            if block.get("type") == "tool_use" and "id" not in block:
                block["id"] = f"toolu_fake_{next(self._ids):06d}"
            content.append(block)
        stop = reply.stop_reason
        if stop is None:
            stop = "tool_use" if any(b.get("type") == "tool_use" for b in content) else "end_turn"
        cache = self.cache.account(body)
        usage = {
            "input_tokens": cache.input_tokens,
            "output_tokens": sum(approx_tokens(b) for b in content),
            "cache_creation_input_tokens": cache.cache_creation_input_tokens,
            "cache_read_input_tokens": cache.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": cache.ephemeral_5m_input_tokens,
                "ephemeral_1h_input_tokens": cache.ephemeral_1h_input_tokens,
            },
            "service_tier": "standard",
        }
        return {
            "id": f"msg_fake_{next(self._ids):06d}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude-fake"),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }


def _credential(headers: Mapping[str, str]) -> str | None:
    if headers.get("x-api-key"):
        return headers["x-api-key"]
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        return auth[7:].strip()
    return None


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAnthropic
    protocol_version = "HTTP/1.1"
    _call: tuple[str, dict[str, str], Any]

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read ``fake.calls`` instead of a request log."""

    def do_POST(self) -> None:
        fake = self.fake
        request_id = fake._request_id()
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(headers.get("content-length", "0") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw or b"{}")
        except ValueError:
            body = raw.decode(errors="replace")
        path = self.path.split("?", 1)[0]
        self._call = (path, headers, body)
        self._serve(path, headers, body, request_id)

    def _record(self, status: int) -> None:
        # Recorded before the response is written, so a client that has its answer can
        # always see the call in ``fake.calls``.
        path, headers, body = self._call
        self.fake._record(RecordedCall("POST", path, headers, body, status))

    def _serve(self, path: str, headers: dict[str, str], body: Any, request_id: str) -> int:
        fake = self.fake
        key = _credential(headers)
        if key is None or (fake.api_key is not None and key != fake.api_key):
            return self._error(
                FakeError(401, "authentication_error", "invalid x-api-key"), request_id
            )
        if not headers.get("anthropic-version"):
            return self._error(
                FakeError(400, "invalid_request_error", "anthropic-version: header is required"),
                request_id,
            )
        if not isinstance(body, dict):
            return self._error(
                FakeError(400, "invalid_request_error", "body: not a JSON object"), request_id
            )
        if path == "/v1/messages/count_tokens":
            try:
                tokens = count_input_tokens(body)
            except CacheRequestError as e:
                return self._error(FakeError(400, "invalid_request_error", str(e)), request_id)
            return self._json(200, {"input_tokens": tokens}, request_id)
        if path != "/v1/messages":
            return self._error(FakeError(404, "not_found_error", f"{path}: not found"), request_id)
        with fake._lock:
            fake.requests.append(body)
        reply = fake._next_reply(body)
        if isinstance(reply, list):
            reply = FakeReply(reply)
        if isinstance(reply, FakeError) and not (reply.in_stream and body.get("stream")):
            return self._error(reply, request_id)
        if isinstance(reply, FakeError):
            return self._stream_error(str(body.get("model", "")), reply, request_id)
        try:
            message = fake._message(body, reply)
        except CacheRequestError as e:
            return self._error(FakeError(400, "invalid_request_error", str(e)), request_id)
        if body.get("stream"):
            return self._stream(message, request_id)
        return self._json(200, message, request_id)

    def _json(
        self,
        status: int,
        payload: Mapping[str, Any],
        request_id: str,
        extra: Mapping[str, str] | None = None,
    ) -> int:
        data = json.dumps(payload).encode()
        self._record(status)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", request_id)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        return status

    def _error(self, error: FakeError, request_id: str) -> int:
        extra: dict[str, str] = {}
        if error.retry_after is not None:
            extra["retry-after"] = repr(float(error.retry_after))
        if error.should_retry is not None:
            extra["x-should-retry"] = "true" if error.should_retry else "false"
        payload = {
            "type": "error",
            "error": {"type": error.error_type, "message": error.message},
            "request_id": request_id,
        }
        return self._json(error.status, payload, request_id, extra)

    def _start_stream(self, request_id: str) -> None:
        self._record(200)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.send_header("request-id", request_id)
        self.end_headers()
        self.close_connection = True

    def _stream(self, message: Mapping[str, Any], request_id: str) -> int:
        self._start_stream(request_id)
        for event in message_events(message):
            self.wfile.write(event)
            self.wfile.flush()
        return 200

    def _stream_error(self, model: str, error: FakeError, request_id: str) -> int:
        self._start_stream(request_id)
        for event in failed_stream_events(model, error.error_type, error.message, request_id):
            self.wfile.write(event)
        self.wfile.flush()
        return 200
