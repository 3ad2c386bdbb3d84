"""The Slack Web API client: where it points, its retries and timeouts."""

from __future__ import annotations

import pytest
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from factory.slack.client import web_client


def test_web_client_points_at_the_api_url_with_a_trailing_slash() -> None:
    """An API url without its trailing slash still gets one (slack_sdk joins method names)."""
    assert web_client("xoxb-1", "http://127.0.0.1:9/api").base_url == "http://127.0.0.1:9/api/"


def test_web_client_retries_rate_limits_and_dropped_connections() -> None:
    """The client carries a rate-limit handler (Retry-After) and a connection-error handler."""
    kinds = {type(h) for h in web_client("xoxb-1").retry_handlers}
    assert kinds == {RateLimitErrorRetryHandler, ConnectionErrorRetryHandler}


def test_web_client_refuses_an_empty_token() -> None:
    """No token is a configuration error, not an anonymous client."""
    with pytest.raises(ValueError, match="needs a token"):
        web_client("")
