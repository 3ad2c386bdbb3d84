"""The fake GitHub's rate limits: per-caller quotas, spent primary limits, secondary limits.

GitHub's primary limit is a quota per caller (user, installation, app, address) and
resource (``core``, ``search``) that resets at ``x-ratelimit-reset`` (epoch seconds). Once
it is spent, every request of that caller and resource answers 403 or 429 with
``x-ratelimit-remaining: 0`` and **no** ``retry-after`` until the reset. Secondary limits
answer 403 or 429 with ``retry-after`` whatever the quota says. Every answer, error or
not, carries the ``x-ratelimit-*`` headers; a 304 is not counted.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field

import jwt

from factory.testing.github_model import ApiError, Token

PRIMARY_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_DOCS = f"{PRIMARY_DOCS}#about-secondary-rate-limits"
WINDOW_S = 3600
LIMITS = {"core": 5000, "search": 30}
ANONYMOUS_LIMITS = {"core": 60, "search": 10}
ANONYMOUS_NOTE = (
    "127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. "
    "Check out the documentation for more details.)"
)


@dataclass(frozen=True)
class Caller:
    """Whose quota a request spends: ``key`` for the books, ``named`` for the message."""

    key: str
    named: str
    anonymous: bool = False

    @classmethod
    def of(cls, token: Token | None, user_id: int | None, bearer: str | None) -> Caller:
        """Return the caller of a request made with ``token`` (or a JWT ``bearer``)."""
        if token is not None and token.installation_id is not None:
            return cls(
                f"installation:{token.installation_id}", f"installation ID {token.installation_id}"
            )
        if token is not None:
            return cls(f"user:{token.login}", f"user ID {user_id}")
        if bearer is not None:
            try:
                app = jwt.decode(bearer, options={"verify_signature": False}).get("iss")
            except jwt.PyJWTError:
                app = None
            return cls(f"app:{app}", f"app ID {app}")
        return cls("anonymous", ANONYMOUS_NOTE, anonymous=True)


@dataclass
class Quota:
    """One caller's budget of one resource in the current window."""

    limit: int
    reset: int
    used: int = 0
    status: int = 403
    """What a spent quota answers (GitHub sends 403 or 429)."""

    def headers(self, resource: str) -> dict[str, str]:
        """Return the ``x-ratelimit-*`` headers GitHub sends with every answer."""
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(max(self.limit - self.used, 0)),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-used": str(min(self.used, self.limit)),
            "x-ratelimit-resource": resource,
        }


@dataclass
class Injected:
    """A limit answered to the next ``count`` requests, with ``retry-after``."""

    count: int
    retry_after: int
    status: int
    secondary: bool


@dataclass
class RateLimits:
    """Every caller's quotas, plus the limits a test injected."""

    quotas: dict[tuple[str, str], Quota] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=lambda: dict(LIMITS))
    spent: dict[str, tuple[int, int]] = field(default_factory=dict)
    """``resource -> (reset epoch, status)``: a primary limit spent for every caller."""
    injected: list[Injected] = field(default_factory=list)

    def spend_all(self, resource: str, reset_in: float, status: int) -> None:
        """Spend ``resource`` for every caller until ``reset_in`` seconds from now."""
        if resource not in LIMITS:
            raise ValueError(f"unknown rate-limit resource {resource!r}; known: {sorted(LIMITS)}")
        self.spent[resource] = (math.ceil(time.time() + reset_in), status)

    def quota(self, caller: Caller, resource: str) -> Quota:
        """Return ``caller``'s current quota of ``resource`` (a new window after a reset)."""
        now = time.time()
        quota = self.quotas.get((caller.key, resource))
        if quota is None or now >= quota.reset:
            limits = ANONYMOUS_LIMITS if caller.anonymous else self.limits
            quota = Quota(limits[resource], int(now) + WINDOW_S)
            self.quotas[(caller.key, resource)] = quota
        spent = self.spent.get(resource)
        if spent is not None and now < spent[0]:
            quota.used, quota.reset, quota.status = quota.limit, spent[0], spent[1]
        elif spent is not None:
            del self.spent[resource]
        return quota

    def refusal(self, caller: Caller, resource: str, quota: Quota) -> ApiError | None:
        """Return the rate-limit error this request gets, or None when it may be served."""
        if self.injected:
            return self._injected(quota, resource)
        if quota.used < quota.limit:
            return None
        return ApiError(
            quota.status,
            f"API rate limit exceeded for {caller.named}.",
            documentation_url=PRIMARY_DOCS,
            headers=quota.headers(resource),
        )

    def _injected(self, quota: Quota, resource: str) -> ApiError:
        first = self.injected[0]
        first.count -= 1
        if first.count <= 0:
            self.injected.pop(0)
        if first.secondary:
            request_id = uuid.uuid4().hex[:8].upper() + ":FAKE"
            msg = (
                "You have exceeded a secondary rate limit. Please wait a few minutes before "
                "you try again. If you reach out to GitHub Support for help, please include "
                f"the request ID {request_id}."
            )
            headers = {"retry-after": str(first.retry_after), "x-github-request-id": request_id}
            return ApiError(first.status, msg, documentation_url=SECONDARY_DOCS, headers=headers)
        # A primary limit that also says retry-after (kept for older tests; GitHub's own
        # primary limits carry only the x-ratelimit-* headers, see spend_all).
        headers = {"retry-after": str(first.retry_after), "x-ratelimit-remaining": "0"}
        return ApiError(first.status, "API rate limit exceeded for user ID 1.", headers=headers)

    @staticmethod
    def count(quota: Quota, status: int) -> None:
        """Count one served answer against ``quota`` (a 304 is free, as on GitHub)."""
        if status != 304 and quota.used < quota.limit:
            quota.used += 1
