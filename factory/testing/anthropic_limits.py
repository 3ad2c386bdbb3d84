"""Rate limits for FakeAnthropic, reported the way the Messages API reports them.

Every response carries ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-
{limit,remaining,reset}``: a limit per minute, what is left of it, and the RFC 3339 time at
which it is whole again. The ``tokens`` headers repeat whichever of the input and output
token limits is the more restrictive now. A request over the requests or input-token limit
is refused with 429 ``rate_limit_error`` and an integer ``retry-after``. Usage is counted in
a sliding one-minute window on the fake's clock; as on the API, prompt-cache reads do not
count against the input-token limit, and a request is refused on input tokens only once the
minute's budget is spent (the fake does not estimate a request before serving it).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from factory.testing.anthropic_replies import FakeError

WINDOW_S = 60.0


@dataclass(frozen=True)
class Limits:
    """Per-minute limits of one organisation (defaults: a generous paid tier)."""

    requests: int = 4000
    input_tokens: int = 2_000_000
    output_tokens: int = 400_000

    def __post_init__(self) -> None:
        if min(self.requests, self.input_tokens, self.output_tokens) < 1:
            raise ValueError("rate limits must be >= 1")


@dataclass(frozen=True)
class _Use:
    at: float
    requests: int
    input_tokens: int
    output_tokens: int


class RateLimiter:
    """Counts what was served in the last minute; answers headers and 429s. Thread-safe."""

    def __init__(self, limits: Limits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._uses: deque[_Use] = deque()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._uses and self._uses[0].at + WINDOW_S <= now:
            self._uses.popleft()

    def admit(self) -> FakeError | None:
        """Count one request; return the 429 to answer if a limit is already reached.

        A refused request still counts against the requests limit, as on the real API.
        """
        with self._lock:
            now = self._clock()
            self._expire(now)
            used_requests = sum(u.requests for u in self._uses)
            used_input = sum(u.input_tokens for u in self._uses)
            if used_requests + 1 > self.limits.requests:
                what = "requests"
            elif used_input >= self.limits.input_tokens:
                what = "input tokens"
            else:
                self._uses.append(_Use(now, 1, 0, 0))
                return None
            wait = self._uses[0].at + WINDOW_S - now if self._uses else WINDOW_S
            self._uses.append(_Use(now, 1, 0, 0))
        return FakeError(
            429,
            "rate_limit_error",
            f"This request would exceed your organization's rate limit of {what} per minute. "
            "Please reduce the prompt length or the maximum tokens requested, or try again later.",
            retry_after=max(1.0, wait),
        )

    def add_tokens(self, input_tokens: int, output_tokens: int) -> None:
        """Count a served request's uncached input tokens and its output tokens."""
        with self._lock:
            self._uses.append(_Use(self._clock(), 0, input_tokens, output_tokens))

    def headers(self) -> dict[str, str]:
        """Return the ``anthropic-ratelimit-*`` headers for a response sent now."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            uses = list(self._uses)
        wall = datetime.now(UTC)
        out: dict[str, str] = {}
        rows: dict[str, tuple[int, int, str]] = {}
        for name, limit, attr in (
            ("requests", self.limits.requests, "requests"),
            ("input-tokens", self.limits.input_tokens, "input_tokens"),
            ("output-tokens", self.limits.output_tokens, "output_tokens"),
        ):
            counted = [(u.at, int(getattr(u, attr))) for u in uses if getattr(u, attr) > 0]
            remaining = max(0, limit - sum(n for _, n in counted))
            full_in = counted[-1][0] + WINDOW_S - now if counted else 0.0
            reset = (wall + timedelta(seconds=math.ceil(full_in))).strftime("%Y-%m-%dT%H:%M:%SZ")
            rows[name] = (limit, remaining, reset)
        rows["tokens"] = min(rows["input-tokens"], rows["output-tokens"], key=lambda r: r[1] / r[0])
        for name in ("requests", "tokens", "input-tokens", "output-tokens"):
            limit, remaining, reset = rows[name]
            out[f"anthropic-ratelimit-{name}-limit"] = str(limit)
            out[f"anthropic-ratelimit-{name}-remaining"] = str(remaining)
            out[f"anthropic-ratelimit-{name}-reset"] = reset
        return out
