"""FakeAnthropic's errors, limits and stop reasons, as the real SDK sees them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from factory.testing import FakeAnthropic, FakeReply
from factory.testing.anthropic_limits import Limits
from tests.conftest import ManualClock

MODEL = "claude-sonnet-5"
BODY: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "fix the bug"}],
}
RATE_LIMIT_HEADERS = {
    f"anthropic-ratelimit-{kind}-{part}"
    for kind in ("requests", "tokens", "input-tokens", "output-tokens")
    for part in ("limit", "remaining", "reset")
}


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    """A running FakeAnthropic with default limits."""
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def client(fake: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    """The real SDK client pointed at the fake, without SDK retries."""
    with anthropic.Anthropic(api_key="sk-fake", base_url=fake.base_url, max_retries=0) as c:
        yield c


def raise_of(client: anthropic.Anthropic, stream: bool = True) -> BaseException:
    """Send ``BODY`` (streaming by default) and return what the SDK raised."""
    try:
        if stream:
            with client.messages.stream(**BODY) as s:
                s.get_final_message()
        else:
            client.messages.create(**BODY)
    except Exception as exc:
        return exc
    raise AssertionError("the request did not fail")


def test_enforced_spend_limit_is_the_sdks_typed_429(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """The monthly cap reaches the SDK as EnforcedSpendLimitReachedError (429, error_code)."""
    fake.enqueue_enforced_spend_limit()
    err = raise_of(client)
    assert (type(err), getattr(err, "status_code", None), getattr(err, "error_code", None)) == (
        anthropic.EnforcedSpendLimitReachedError,
        429,
        "enforced_spend_limit_reached",
    )


def test_enforced_spend_limit_has_no_retry_after(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """Like the API, the spend-cap 429 carries no retry-after header."""
    fake.enqueue_enforced_spend_limit()
    err = raise_of(client)
    assert isinstance(err, anthropic.APIStatusError)
    assert err.response.headers.get("retry-after") is None


def test_error_details_reach_the_sdk_mid_stream(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """An SSE error event carries error.details, which the SDK reads as error_code."""
    fake.enqueue_enforced_spend_limit(in_stream=True)
    err = raise_of(client)
    assert getattr(err, "error_code", None) == "enforced_spend_limit_reached"


def test_every_response_carries_the_rate_limit_headers(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """A 200 has all twelve anthropic-ratelimit-* headers, as the API sends them."""
    fake.enqueue_text("ok")
    raw = client.messages.with_raw_response.create(**BODY)
    assert RATE_LIMIT_HEADERS - set(raw.headers) == set()


def test_error_responses_carry_the_rate_limit_headers(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """A 529 has the rate-limit headers too."""
    fake.enqueue_error(529, "overloaded_error", "Overloaded")
    err = raise_of(client, stream=False)
    assert isinstance(err, anthropic.APIStatusError)
    assert RATE_LIMIT_HEADERS - set(err.response.headers) == set()


def test_requests_remaining_counts_down(fake: FakeAnthropic, client: anthropic.Anthropic) -> None:
    """Each request takes one from anthropic-ratelimit-requests-remaining."""
    fake.enqueue_text("one")
    fake.enqueue_text("two")
    first = client.messages.with_raw_response.create(**BODY).headers
    second = client.messages.with_raw_response.create(**BODY).headers
    name = "anthropic-ratelimit-requests-remaining"
    assert (int(first[name]) - int(second[name]), first["anthropic-ratelimit-requests-limit"]) == (
        1,
        "4000",
    )


def test_request_over_the_limit_is_429_with_integer_retry_after() -> None:
    """Past the requests-per-minute limit the fake answers 429 with a whole-second retry-after."""
    clock = ManualClock()
    with (
        FakeAnthropic(limits=Limits(requests=1), clock=clock) as fake,
        anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=0) as client,
    ):
        fake.enqueue_text("first")
        client.messages.create(**BODY)
        clock.now += 15.5
        err = raise_of(client, stream=False)
    assert isinstance(err, anthropic.RateLimitError)
    assert (err.type, err.response.headers["retry-after"]) == ("rate_limit_error", "45")


def test_rate_limit_window_refills_after_a_minute() -> None:
    """A minute after the limit was reached, requests are served again."""
    clock = ManualClock()
    with (
        FakeAnthropic(limits=Limits(requests=1), clock=clock) as fake,
        anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=0) as client,
    ):
        fake.enqueue_text("first")
        fake.enqueue_text("second")
        client.messages.create(**BODY)
        clock.now += 60.0
        assert client.messages.create(**BODY).content[0].type == "text"


def test_stream_cut_after_message_start_is_a_remote_protocol_error(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """A stream that loses its connection after message_start ends in RemoteProtocolError."""
    fake.enqueue_stream_cut()
    assert type(raise_of(client)) is httpx2.RemoteProtocolError


def test_stream_cut_mid_content_is_a_remote_protocol_error(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """A stream cut after some content deltas ends in RemoteProtocolError too."""
    fake.enqueue_stream_cut(events=3)
    assert type(raise_of(client)) is httpx2.RemoteProtocolError


def test_oversized_request_is_413_request_too_large() -> None:
    """A body over the size limit is refused with 413 request_too_large."""
    with (
        FakeAnthropic(max_request_bytes=2000) as fake,
        anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=0) as client,
    ):
        big = {**BODY, "messages": [{"role": "user", "content": "x" * 5000}]}
        with pytest.raises(anthropic.APIStatusError) as caught:
            client.messages.create(**big)
    assert (caught.value.status_code, caught.value.type) == (413, "request_too_large")


def test_scripted_request_too_large_is_413(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """enqueue_request_too_large answers 413 request_too_large."""
    fake.enqueue_request_too_large()
    err = raise_of(client)
    assert (type(err), getattr(err, "type", None)) == (
        anthropic.ContentTooLargeError,
        "request_too_large",
    )


@pytest.mark.parametrize(
    ("enqueue", "stop_reason"),
    [
        (FakeAnthropic.enqueue_refusal, "refusal"),
        (FakeAnthropic.enqueue_pause_turn, "pause_turn"),
        (FakeAnthropic.enqueue_context_window_exceeded, "model_context_window_exceeded"),
    ],
    ids=["refusal", "pause-turn", "context-window"],
)
def test_stop_reasons_reach_the_sdk_through_the_stream(
    fake: FakeAnthropic, client: anthropic.Anthropic, enqueue: Any, stop_reason: str
) -> None:
    """refusal, pause_turn and model_context_window_exceeded arrive as the message's stop."""
    enqueue(fake)
    with client.messages.stream(**BODY) as stream:
        assert stream.get_final_message().stop_reason == stop_reason


def test_stop_reason_the_api_never_sends_is_refused() -> None:
    """A scripted stop reason that the API does not have is a ValueError."""
    with pytest.raises(ValueError, match="stop_reason"):
        FakeReply([{"type": "text", "text": "x"}], stop_reason="finished")


def test_spent_input_token_budget_is_429() -> None:
    """Once the minute's input tokens are spent, the next request is a 429 naming them."""
    with (
        FakeAnthropic(limits=Limits(input_tokens=5)) as fake,
        anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=0) as client,
    ):
        fake.enqueue_text("first")
        client.messages.create(**BODY)
        err = raise_of(client, stream=False)
    assert isinstance(err, anthropic.RateLimitError)
    assert "input tokens" in (err.api_message or "")
