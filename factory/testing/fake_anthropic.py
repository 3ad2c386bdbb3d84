"""FakeAnthropic: a real Messages API server on 127.0.0.1 for tests, scripted per test.

Usage::

    with FakeAnthropic() as fake:
        fake.enqueue_text("hello")
        fake.enqueue_tool_use("bash", {"command": "ls"})
        fake.enqueue_error(529, "overloaded_error", "Overloaded")
        fake.enqueue_enforced_spend_limit()        # 429 with error.details.error_code
        fake.enqueue_stream_cut()                  # connection lost after message_start
        client = anthropic.Anthropic(api_key="k", base_url=fake.base_url)

Replies are served in order from the queue; when it is empty, ``fake.responder(body)`` is
asked; with neither, the request fails with a 500 that tells the SDK not to retry. Every
HTTP call is recorded in ``fake.calls`` (path, headers, body, status), every Messages request
body in ``fake.requests``. Usage (including prompt caching) is computed the way the real API
does it, see ``anthropic_cache``; every response carries the API's rate-limit headers and
requests over the limits get its 429, see ``anthropic_limits``. Streams are sent with chunked
transfer encoding, so a cut stream is an incomplete body to the client, as on the real API.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from http.server import ThreadingHTTPServer
from typing import Any

from factory.testing.anthropic_cache import (
    PromptCache,
    approx_tokens,
)
from factory.testing.anthropic_http import Handler, RecordedCall, credential
from factory.testing.anthropic_limits import Limits, RateLimiter
from factory.testing.anthropic_replies import (
    MAX_REQUEST_BYTES,
    FakeError,
    FakeReply,
    FakeStreamCut,
    enforced_spend_limit_error,
    request_too_large_error,
    spend_limit_error,
)
from factory.testing.served import LoopbackServer

__all__ = [
    "FakeAnthropic",
    "FakeError",
    "FakeReply",
    "FakeStreamCut",
    "RecordedCall",
    "spend_limit_error",
]


Reply = FakeReply | FakeError | FakeStreamCut | list[dict[str, Any]]
Responder = Callable[[dict[str, Any]], Reply]


class FakeAnthropic(LoopbackServer):
    """A Messages API server in a background thread; use as a context manager."""

    thread_name = "fake-anthropic"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        min_cacheable_tokens: int | None = None,
        clock: Callable[[], float] | None = None,
        limits: Limits | None = None,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        """Prepare the server; ``api_key`` if given is the only key accepted (else any).

        ``limits`` are the per-minute rate limits; bodies over ``max_request_bytes`` get 413.
        The prompt cache applies each model's minimum cacheable length (a shorter prefix
        is not cached) unless ``min_cacheable_tokens`` overrides it.
        """
        super().__init__()
        self.api_key = api_key
        self.cache = PromptCache(clock or time.monotonic, min_cacheable_tokens)
        self.limiter = RateLimiter(limits or Limits(), clock or time.monotonic)
        self.max_request_bytes = max_request_bytes
        self.responder: Responder | None = None
        self.requests: list[dict[str, Any]] = []
        self.calls: list[RecordedCall] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # -- lifecycle ---------------------------------------------------------------------------

    def _make_server(self) -> ThreadingHTTPServer:
        handler = type("Handler", (Handler,), {"fake": self})
        return ThreadingHTTPServer(("127.0.0.1", 0), handler)

    @property
    def base_url(self) -> str:
        """The server's URL, e.g. ``http://127.0.0.1:43121``. Raises RuntimeError if stopped."""
        return f"http://127.0.0.1:{self.port}"

    # -- scripting ---------------------------------------------------------------------------

    def enqueue(self, reply: Reply) -> None:
        """Queue one reply: content blocks, a FakeReply, a FakeError or a FakeStreamCut."""
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
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue an error reply (e.g. 429 rate_limit_error, 529 overloaded_error)."""
        more = None if details is None else dict(details)
        self.enqueue(
            FakeError(status, error_type, message, retry_after, should_retry, in_stream, more)
        )

    def enqueue_spend_limit(self) -> None:
        """Queue the API's "credit balance is too low" error."""
        self.enqueue(spend_limit_error())

    def enqueue_enforced_spend_limit(self, *, in_stream: bool = False) -> None:
        """Queue the API's monthly spend cap: 429 with ``enforced_spend_limit_reached``."""
        error = enforced_spend_limit_error()
        self.enqueue(
            FakeError(
                error.status,
                error.error_type,
                error.message,
                in_stream=in_stream,
                details=error.details,
            )
        )

    def enqueue_request_too_large(self) -> None:
        """Queue the API's 413 ``request_too_large``."""
        self.enqueue(request_too_large_error())

    def enqueue_stream_cut(self, *, events: int = 0) -> None:
        """Queue a stream whose connection drops after message_start (and ``events`` more)."""
        self.enqueue(FakeStreamCut(events))

    def enqueue_refusal(self, text: str = "I can't help with that.") -> None:
        """Queue a reply the API stopped with ``refusal``."""
        self.enqueue_text(text, stop_reason="refusal")

    def enqueue_pause_turn(self, text: str = "Still working on it.") -> None:
        """Queue a reply the API paused mid-turn (``pause_turn``); send it back to resume."""
        self.enqueue_text(text, stop_reason="pause_turn")

    def enqueue_context_window_exceeded(self, text: str = "The change needs") -> None:
        """Queue a reply cut off because the context window is full."""
        self.enqueue_text(text, stop_reason="model_context_window_exceeded")

    @property
    def pending(self) -> int:
        """How many queued replies have not been served yet."""
        with self._lock:
            return len(self._queue)

    @property
    def api_keys(self) -> list[str]:
        """The credential each call carried (x-api-key or Authorization bearer), in order."""
        return [credential(c.headers) or "" for c in self.calls]

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
        output_tokens = sum(approx_tokens(b) for b in content)
        uncached = cache.input_tokens + cache.cache_creation_input_tokens
        self.limiter.add_tokens(uncached, output_tokens)
        usage = {
            "input_tokens": cache.input_tokens,
            "output_tokens": output_tokens,
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
