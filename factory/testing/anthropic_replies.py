"""What FakeAnthropic can be scripted to answer, and the API's own error replies.

A reply is a ``FakeReply`` (a message), a ``FakeError`` (an error body with the API's status,
``error.type``, ``error.details`` and headers) or a ``FakeStreamCut`` (a stream that starts and
then loses its connection). The constructors below build the errors the real API sends for
spend limits and oversized requests, with the bodies and headers it uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STOP_REASONS = frozenset(
    {
        "end_turn",
        "max_tokens",
        "stop_sequence",
        "tool_use",
        "pause_turn",
        "refusal",
        "model_context_window_exceeded",
    }
)
"""Every ``stop_reason`` the Messages API sends."""

MAX_REQUEST_BYTES = 32 * 1024 * 1024
"""The Messages API's request size limit; larger bodies get 413 ``request_too_large``."""


@dataclass(frozen=True)
class FakeReply:
    """A scripted successful reply: content blocks and an optional stop reason."""

    content: list[dict[str, Any]]
    stop_reason: str | None = None
    """Defaults to "tool_use" when a tool_use block is present, else "end_turn"."""

    def __post_init__(self) -> None:
        if self.stop_reason is not None and self.stop_reason not in STOP_REASONS:
            known = ", ".join(sorted(STOP_REASONS))
            raise ValueError(f"stop_reason {self.stop_reason!r} is not one the API sends: {known}")


@dataclass(frozen=True)
class FakeError:
    """A scripted error reply, shaped like the API's error body."""

    status: int
    error_type: str
    message: str
    retry_after: float | None = None
    """Seconds in the ``retry-after`` header, if any; sent as an integer (rounded up), as the
    API does."""
    should_retry: bool | None = None
    """Value of the ``x-should-retry`` header, if any."""
    in_stream: bool = False
    """For streaming requests: answer 200 and fail with an SSE ``error`` event instead."""
    details: dict[str, Any] | None = None
    """``error.details`` (e.g. ``{"error_code": "enforced_spend_limit_reached"}``), if any."""
    headers: dict[str, str] = field(default_factory=dict)
    """Further response headers."""

    def body(self, request_id: str) -> dict[str, Any]:
        """Return the JSON error body the API sends for this error."""
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.details is not None:
            error["details"] = dict(self.details)
        return {"type": "error", "error": error, "request_id": request_id}


@dataclass(frozen=True)
class FakeStreamCut:
    """A streaming reply whose connection drops after ``message_start`` (and ``events`` more)."""

    events: int = 0
    """How many SSE events after ``message_start`` are sent before the cut."""
    content: list[dict[str, Any]] = field(
        default_factory=lambda: [{"type": "text", "text": "I will start by reading the code"}]
    )
    """The message the stream was sending when it was cut."""


def spend_limit_error() -> FakeError:
    """Return the error the API sends when the organisation's credit balance is exhausted."""
    return FakeError(
        400,
        "invalid_request_error",
        "Your credit balance is too low to access the Anthropic API. "
        "Please go to Plans & Billing to upgrade or purchase credits.",
    )


def enforced_spend_limit_error() -> FakeError:
    """Return the 429 the API sends once the organisation's monthly spend cap is reached.

    It is a ``rate_limit_error`` with ``error.details.error_code`` set and no ``retry-after``;
    the SDK maps it to ``EnforcedSpendLimitReachedError`` (a ``RateLimitError``, so the SDK
    would retry it like any 429).
    """
    return FakeError(
        429,
        "rate_limit_error",
        "You have reached your specified API usage limits. "
        "You will regain access on the first day of next month at 00:00 UTC.",
        details={"error_code": "enforced_spend_limit_reached"},
    )


def request_too_large_error() -> FakeError:
    """Return the 413 the API sends for a request body over its size limit."""
    return FakeError(
        413,
        "request_too_large",
        f"Request exceeds the maximum allowed number of bytes ({MAX_REQUEST_BYTES}).",
    )
