"""FakeAnthropic's HTTP side: one handler per request, answering like the Messages API.

Checks run in the API's order: request size (413, at the edge), credential (401), the
``anthropic-version`` header and a JSON body (400), then the endpoint; Messages requests then
meet the rate limits (429) and get the scripted reply, as JSON or as a chunked SSE stream.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from factory.testing.anthropic_cache import CacheRequestError, count_input_tokens
from factory.testing.anthropic_replies import (
    FakeError,
    FakeReply,
    FakeStreamCut,
    request_too_large_error,
)
from factory.testing.anthropic_sse import failed_stream_events, message_events

if TYPE_CHECKING:
    from factory.testing.fake_anthropic import FakeAnthropic


@dataclass(frozen=True)
class RecordedCall:
    """One HTTP request the fake received and the status it answered."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: Any
    status: int


def credential(headers: Mapping[str, str]) -> str | None:
    """Return the credential a request carries (x-api-key or a bearer token), if any."""
    if headers.get("x-api-key"):
        return headers["x-api-key"]
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        return auth[7:].strip()
    return None


class Handler(BaseHTTPRequestHandler):
    """Serves one FakeAnthropic; ``fake`` is set on a subclass per server."""

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
        if length > fake.max_request_bytes:
            # Refused at the edge, before authentication, like the real API's proxy.
            self._call = (self.path.split("?", 1)[0], headers, None)
            self._error(request_too_large_error(), request_id)
            return
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
        key = credential(headers)
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
        limited = fake.limiter.admit()
        if limited is not None:
            return self._error(limited, request_id)
        with fake._lock:
            fake.requests.append(body)
        reply = fake._next_reply(body)
        if isinstance(reply, list):
            reply = FakeReply(reply)
        if isinstance(reply, FakeError) and not (reply.in_stream and body.get("stream")):
            return self._error(reply, request_id)
        if isinstance(reply, FakeError):
            return self._stream_error(str(body.get("model", "")), reply, request_id)
        if isinstance(reply, FakeStreamCut):
            if not body.get("stream"):
                return self._error(FakeError(500, "api_error", "Internal server error"), request_id)
            return self._stream_cut(
                fake._message(body, FakeReply(reply.content)), reply, request_id
            )
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
        for name, value in {**self.fake.limiter.headers(), **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        return status

    def _error(self, error: FakeError, request_id: str) -> int:
        extra: dict[str, str] = dict(error.headers)
        if error.retry_after is not None:
            extra["retry-after"] = str(math.ceil(error.retry_after))
        if error.should_retry is not None:
            extra["x-should-retry"] = "true" if error.should_retry else "false"
        return self._json(error.status, error.body(request_id), request_id, extra)

    def _start_stream(self, request_id: str) -> None:
        self._record(200)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.send_header("request-id", request_id)
        self.send_header("transfer-encoding", "chunked")
        for name, value in self.fake.limiter.headers().items():
            self.send_header(name, value)
        self.end_headers()
        self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _stream(self, message: Mapping[str, Any], request_id: str) -> int:
        self._start_stream(request_id)
        for event in message_events(message):
            self._chunk(event)
        self._end_stream()
        return 200

    def _stream_error(self, model: str, error: FakeError, request_id: str) -> int:
        self._start_stream(request_id)
        events = failed_stream_events(
            model, error.error_type, error.message, request_id, details=error.details
        )
        for event in events:
            self._chunk(event)
        self._end_stream()
        return 200

    def _stream_cut(self, message: Mapping[str, Any], cut: FakeStreamCut, request_id: str) -> int:
        # The body is never finished: no terminating chunk, the connection just closes.
        self._start_stream(request_id)
        for event in itertools.islice(message_events(message), 1 + cut.events):
            self._chunk(event)
        return 200
