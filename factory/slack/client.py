"""The one way the factory makes a Slack Web API client.

``web_client`` gives slack_sdk's ``WebClient`` pointed at ``api_url`` (Slack's, or
FakeSlack's in tests and the demo) with a timeout and two retry handlers: a rate-limited
call (HTTP 429) waits out ``Retry-After`` and tries again, a dropped connection is tried
again once. slack_sdk sends the token as ``Authorization: Bearer`` and writes it to no log
(its debug lines show "(redacted)"); factory.logs' redactor scrubs it from stdlib records
anyway.
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

DEFAULT_API_URL = "https://slack.com/api/"
TIMEOUT_S = 10
"""Seconds to connect and read one answer; Slack answers in well under a second."""
RATE_LIMIT_RETRIES = 2
"""How many times a 429 is waited out before the caller gets SlackApiError(ratelimited)."""


def web_client(
    token: str,
    api_url: str = DEFAULT_API_URL,
    *,
    timeout_s: int = TIMEOUT_S,
    rate_limit_retries: int = RATE_LIMIT_RETRIES,
) -> WebClient:
    """Return a WebClient for ``token`` at ``api_url`` with timeouts and retries set.

    Raises ValueError for an empty token or a non-positive timeout.
    """
    if not token:
        raise ValueError("a Slack client needs a token")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}")
    return WebClient(
        token=token,
        base_url=api_url if api_url.endswith("/") else api_url + "/",
        timeout=timeout_s,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=1),
            RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
        ],
    )
