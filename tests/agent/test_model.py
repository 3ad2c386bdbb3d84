"""AnthropicModel against FakeAnthropic: replies, usage, retries, spend limits, secrecy."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from pydantic import SecretStr

from factory.agent.model import AnthropicModel
from factory.errors import ModelError, SpendLimitReached
from factory.testing import FakeAnthropic
from factory.testing.anthropic_cache import count_input_tokens

KEY = "sk-ant-test-0123456789-secret"
MODEL = "claude-sonnet-5"


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    """A running FakeAnthropic."""
    with FakeAnthropic() as server:
        yield server


class Sleeps:
    """Records the delays the adapter asked to sleep, without sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_model(fake: FakeAnthropic, sleeps: Sleeps | None = None, **kwargs: Any) -> AnthropicModel:
    """Build an adapter for the fake with a recording sleep and a seeded jitter."""
    return AnthropicModel(
        SecretStr(KEY),
        fake.base_url,
        sleep=sleeps or Sleeps(),
        rng=random.Random(7),
        **kwargs,
    )


def request(**extra: Any) -> dict[str, Any]:
    """Return a small Messages request body."""
    return {
        "model": MODEL,
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "fix the bug"}],
        **extra,
    }


def test_text_reply_comes_back_as_plain_dicts(fake: FakeAnthropic) -> None:
    """A text reply is returned as a list of plain dicts with its stop reason."""
    fake.enqueue_text("All done.")
    reply = make_model(fake).create(request())
    assert (reply.content, reply.stop_reason) == (
        [{"type": "text", "text": "All done."}],
        "end_turn",
    )


def test_tool_use_reply_comes_back_as_dict(fake: FakeAnthropic) -> None:
    """A tool_use block comes back with its id, name and parsed input."""
    fake.enqueue_tool_use("bash", {"command": "ls -la src/"})
    block = make_model(fake).create(request()).content[0]
    assert (block["type"], block["name"], block["input"], block["id"].startswith("toolu_")) == (
        "tool_use",
        "bash",
        {"command": "ls -la src/"},
        True,
    )


def test_request_is_sent_streaming_with_all_fields(fake: FakeAnthropic) -> None:
    """System, tools and metadata reach the API unchanged, as a streaming request."""
    tools = [{"name": "bash", "description": "run", "input_schema": {"type": "object"}}]
    fake.enqueue_text("ok")
    make_model(fake).create(request(system="be careful", tools=tools, temperature=0.2))
    sent = fake.requests[0]
    assert (sent["system"], sent["tools"], sent["temperature"], sent["stream"]) == (
        "be careful",
        tools,
        0.2,
        True,
    )


def test_count_tokens_returns_the_api_count(fake: FakeAnthropic) -> None:
    """count_tokens answers the fake's count for the same prompt a create would send."""
    body = request(system="be careful")
    del body["max_tokens"]
    assert make_model(fake).count_tokens(request(system="be careful")) == count_input_tokens(body)


def test_cache_usage_is_reported(fake: FakeAnthropic) -> None:
    """The second identical cached request reports what the first one wrote as read."""
    system = [{"type": "text", "text": "rules " * 100, "cache_control": {"type": "ephemeral"}}]
    model = make_model(fake)
    fake.enqueue_text("one")
    fake.enqueue_text("two")
    first = model.create(request(system=system)).usage
    second = model.create(request(system=system)).usage
    assert (second.cache_read_input_tokens, second.cache_creation_input_tokens) == (
        first.cache_creation_input_tokens,
        0,
    )


def test_raw_json_and_latency_are_kept(fake: FakeAnthropic) -> None:
    """The reply keeps the message JSON and a positive latency."""
    fake.enqueue_text("x")
    reply = make_model(fake).create(request())
    assert (reply.raw["type"], reply.raw["id"].startswith("msg_"), reply.latency_ms > 0) == (
        "message",
        True,
        True,
    )


def test_rate_limit_with_retry_after_is_retried_then_succeeds(fake: FakeAnthropic) -> None:
    """A 429 with retry-after is retried by the SDK and the second attempt succeeds."""
    fake.enqueue_error(429, "rate_limit_error", "Number of requests exceeded", retry_after=0.01)
    fake.enqueue_text("after the wait")
    reply = make_model(fake, max_retries=2).create(request())
    assert (reply.content[0]["text"], [c.status for c in fake.calls]) == (
        "after the wait",
        [429, 200],
    )


def test_overloaded_is_retried_with_backoff_and_succeeds(fake: FakeAnthropic) -> None:
    """A 529 gets an extra backoff attempt (sleep injected) and then succeeds."""
    sleeps = Sleeps()
    fake.enqueue_error(529, "overloaded_error", "Overloaded")
    fake.enqueue_text("recovered")
    model = make_model(fake, sleeps, max_retries=0, overloaded_retries=3, backoff_base_s=2.0)
    reply = model.create(request())
    assert (reply.content[0]["text"], len(fake.calls), len(sleeps.delays)) == ("recovered", 2, 1)


def test_overloaded_gives_up_after_n_retries(fake: FakeAnthropic) -> None:
    """After the allowed overloaded retries the adapter raises ModelError, having tried 1+N."""
    for _ in range(5):
        fake.enqueue_error(529, "overloaded_error", "Overloaded")
    model = make_model(fake, max_retries=0, overloaded_retries=2)
    with pytest.raises(ModelError, match="overloaded_error"):
        model.create(request())
    assert len(fake.calls) == 3


def test_overloaded_error_mid_stream_is_retried(fake: FakeAnthropic) -> None:
    """An overloaded SSE error event after a 200 is retried like a 529."""
    fake.enqueue_error(529, "overloaded_error", "Overloaded", in_stream=True)
    fake.enqueue_text("second try")
    reply = make_model(fake, max_retries=0).create(request())
    assert reply.content[0]["text"] == "second try"


def test_backoff_is_capped_and_jittered() -> None:
    """Overloaded backoff doubles per attempt, never exceeds the cap, and is at least half."""
    model = AnthropicModel(KEY, "http://127.0.0.1:9", backoff_base_s=1.0, backoff_max_s=5.0)
    delays = [model.backoff_s(attempt) for attempt in range(6)]
    ceilings = [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))


@pytest.mark.parametrize(
    ("status", "error_type", "message"),
    [
        (
            400,
            "invalid_request_error",
            "Your credit balance is too low to access the Anthropic API. "
            "Please go to Plans & Billing to upgrade or purchase credits.",
        ),
        (400, "invalid_request_error", "You have reached your specified API usage limits."),
        (402, "billing_error", "Payment required"),
        (403, "permission_error", "Your organization's billing is past due."),
    ],
    ids=["credit-balance", "usage-limit", "402-billing", "403-billing"],
)
def test_spend_limit_raises_after_exactly_one_request(
    fake: FakeAnthropic, status: int, error_type: str, message: str
) -> None:
    """A spend/billing refusal raises SpendLimitReached without any retry."""
    for _ in range(3):
        fake.enqueue_error(status, error_type, message)
    with pytest.raises(SpendLimitReached):
        make_model(fake, max_retries=2, overloaded_retries=2).create(request())
    assert len(fake.calls) == 1


def test_ordinary_bad_request_is_model_error_not_spend_limit(fake: FakeAnthropic) -> None:
    """A 400 that is not about billing raises plain ModelError."""
    fake.enqueue_error(400, "invalid_request_error", "messages: field required")
    with pytest.raises(ModelError) as caught:
        make_model(fake).create(request())
    assert not isinstance(caught.value, SpendLimitReached)


def test_final_server_error_names_the_request_id(fake: FakeAnthropic) -> None:
    """After the SDK's retries a 500 raises ModelError naming the last request id."""
    for _ in range(2):
        fake.enqueue_error(500, "api_error", "Internal server error", retry_after=0.01)
    with pytest.raises(ModelError, match=r"request_id req_fake_\d+"):
        make_model(fake, max_retries=1).create(request())


def test_unreachable_api_is_model_error() -> None:
    """A refused connection raises ModelError."""
    with FakeAnthropic() as server:
        url = server.base_url
    with pytest.raises(ModelError, match="cannot reach"):
        AnthropicModel(KEY, url, max_retries=0).create(request())


def test_api_key_is_sent_to_the_api(fake: FakeAnthropic) -> None:
    """The configured key is the credential the API receives."""
    fake.enqueue_text("ok")
    make_model(fake).create(request())
    assert fake.api_keys == [KEY]


def test_api_key_never_in_logs_or_errors(
    fake: FakeAnthropic, caplog: pytest.LogCaptureFixture
) -> None:
    """Across success, retry and failure the key is in no log event, record or error text."""
    caplog.set_level(logging.DEBUG)
    fake.enqueue_text("ok")
    fake.enqueue_error(529, "overloaded_error", "Overloaded")
    fake.enqueue_error(500, "api_error", "boom")
    fake.enqueue(
        [{"type": "text", "text": "unused"}]
    )  # left in the queue: the 500 is final with max_retries=0
    model = make_model(fake, max_retries=0, overloaded_retries=1)
    with structlog.testing.capture_logs() as events:
        model.create(request())
        with pytest.raises(ModelError) as caught:
            model.create(request())
    texts = [repr(e) for e in events] + [r.getMessage() for r in caplog.records]
    texts += [str(caught.value), repr(caught.value), repr(model)]
    assert (len(events) > 0, [t for t in texts if KEY in t]) == (True, [])


def test_empty_api_key_is_refused() -> None:
    """An empty key is a ValueError at construction."""
    with pytest.raises(ValueError, match="api_key"):
        AnthropicModel("", None)


def test_enforced_spend_limit_raises_after_exactly_one_request(fake: FakeAnthropic) -> None:
    """The monthly spend cap (429 enforced_spend_limit_reached) is SpendLimitReached, unretried."""
    for _ in range(3):
        fake.enqueue_enforced_spend_limit()
    with pytest.raises(SpendLimitReached):
        make_model(fake, max_retries=2, overloaded_retries=2).create(request())
    assert len(fake.calls) == 1


def test_enforced_spend_limit_mid_stream_raises_spend_limit(fake: FakeAnthropic) -> None:
    """The spend cap arriving as an SSE error event is SpendLimitReached too."""
    fake.enqueue_enforced_spend_limit(in_stream=True)
    fake.enqueue_text("never sent")
    with pytest.raises(SpendLimitReached):
        make_model(fake, max_retries=2, overloaded_retries=2).create(request())
    assert len(fake.calls) == 1


def test_stream_cut_after_message_start_is_retried_and_succeeds(fake: FakeAnthropic) -> None:
    """A stream whose connection drops after message_start is sent again and then succeeds."""
    fake.enqueue_stream_cut()
    fake.enqueue_text("second try")
    reply = make_model(fake, max_retries=0, overloaded_retries=1).create(request())
    assert (reply.content[0]["text"], len(fake.calls)) == ("second try", 2)


def test_stream_cut_after_the_retries_is_a_retryable_model_error(fake: FakeAnthropic) -> None:
    """A stream still cut once the retries are spent raises ModelError the run may retry."""
    fake.enqueue_stream_cut(events=2)
    with pytest.raises(ModelError) as caught:
        make_model(fake, max_retries=0, overloaded_retries=0).create(request())
    assert (caught.value.retryable, "connection" in str(caught.value)) == (True, True)


def test_request_too_large_is_not_retryable(fake: FakeAnthropic) -> None:
    """A 413 request_too_large is sent once and raises a ModelError no retry may repeat."""
    for _ in range(3):
        fake.enqueue_request_too_large()
    with pytest.raises(ModelError) as caught:
        make_model(fake, max_retries=2, overloaded_retries=2).create(request())
    assert (len(fake.calls), caught.value.retryable, "request_too_large" in str(caught.value)) == (
        1,
        False,
        True,
    )


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
    ],
    ids=["400", "401", "403", "404"],
)
def test_request_the_api_rejects_is_not_retryable(
    fake: FakeAnthropic, status: int, error_type: str
) -> None:
    """A request the API rejects as such (4xx) would fail the same way again: not retryable."""
    fake.enqueue_error(status, error_type, "rejected")
    with pytest.raises(ModelError) as caught:
        make_model(fake).create(request())
    assert caught.value.retryable is False


def test_rate_limit_after_the_retries_stays_retryable(fake: FakeAnthropic) -> None:
    """An ordinary 429 that outlasts the SDK's retries is a retryable ModelError."""
    fake.enqueue_error(429, "rate_limit_error", "Number of requests exceeded", retry_after=0)
    with pytest.raises(ModelError) as caught:
        make_model(fake, max_retries=0).create(request())
    assert (caught.value.retryable, isinstance(caught.value, SpendLimitReached)) == (True, False)
