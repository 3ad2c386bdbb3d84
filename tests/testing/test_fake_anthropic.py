"""FakeAnthropic answers the real anthropic SDK like the Messages API, including cache usage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from factory.testing import FakeAnthropic, FakeReply
from factory.testing.anthropic_cache import count_input_tokens
from tests.conftest import ManualClock

MODEL = "claude-sonnet-5"
LONG = "You are the builder. " * 40


@pytest.fixture
def clock() -> ManualClock:
    """A clock the fake reads for cache expiry."""
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeAnthropic]:
    """A running FakeAnthropic with an injectable clock, caching prompts of any length."""
    # These tests check the cache accounting on short prompts; the per-model minimum
    # cacheable length has its own tests (tests/testing/test_cache_minimums.py).
    with FakeAnthropic(clock=clock, min_cacheable_tokens=0) as server:
        yield server


@pytest.fixture
def client(fake: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    """The real SDK client pointed at the fake, without SDK retries."""
    with anthropic.Anthropic(api_key="sk-fake", base_url=fake.base_url, max_retries=0) as c:
        yield c


def cached_request(
    system: str = LONG, user: str = "hello", ttl: str | None = None
) -> dict[str, Any]:
    """Return a request whose system prompt is a cache breakpoint."""
    marker: dict[str, Any] = {"type": "ephemeral"}
    if ttl is not None:
        marker["ttl"] = ttl
    return {
        "model": MODEL,
        "max_tokens": 100,
        "system": [{"type": "text", "text": system, "cache_control": marker}],
        "messages": [{"role": "user", "content": user}],
    }


def send(client: anthropic.Anthropic, fake: FakeAnthropic, body: dict[str, Any]) -> Any:
    """Script one text reply and send ``body``; return the usage the SDK parsed."""
    fake.enqueue_text("ok")
    return client.messages.create(**body).usage


def test_json_reply_parses_through_sdk(fake: FakeAnthropic, client: anthropic.Anthropic) -> None:
    """A non-streaming request returns the scripted text as a parsed Message."""
    fake.enqueue_text("hello there")
    message = client.messages.create(
        model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    )
    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [
        ("text", "hello there")
    ]


def test_stream_assembles_text_and_tool_use(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """Through SSE, the SDK accumulates a text block and a tool_use block with its input."""
    tool_input = {"command": "pytest -q tests/ --maxfail=1", "timeout": 30}
    fake.enqueue_tool_use("bash", tool_input, text="Running the tests now, then I report.")
    with client.messages.stream(
        model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "go"}]
    ) as stream:
        message = stream.get_final_message()
    tool = message.content[1]
    assert (message.content[0].text, tool.type, tool.name, tool.input, message.stop_reason) == (
        "Running the tests now, then I report.",
        "tool_use",
        "bash",
        tool_input,
        "tool_use",
    )


def test_stream_sends_the_real_event_sequence(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """The SSE stream is message_start, block start/deltas/stop, message_delta, message_stop."""
    fake.enqueue_text("short")
    events = client.messages.create(
        model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "x"}], stream=True
    )
    kinds = [event.type for event in events]
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_stream_usage_matches_json_usage(fake: FakeAnthropic, client: anthropic.Anthropic) -> None:
    """Streaming and non-streaming report the same output token count for the same reply."""
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "x"}],
    }
    fake.enqueue_text("the same reply text")
    fake.enqueue_text("the same reply text")
    plain = client.messages.create(**body).usage.output_tokens
    with client.messages.stream(**body) as stream:
        streamed = stream.get_final_message().usage.output_tokens
    assert streamed == plain


def test_records_request_bodies_and_credential(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """Each request body is kept in ``requests`` and its key in ``api_keys``."""
    fake.enqueue_text("ok")
    client.messages.create(model=MODEL, max_tokens=7, messages=[{"role": "user", "content": "q"}])
    assert (fake.requests[0]["max_tokens"], fake.api_keys) == (7, ["sk-fake"])


def test_responder_answers_when_queue_is_empty(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """With nothing queued, the responder function builds the reply from the request."""
    fake.responder = lambda body: FakeReply(
        [{"type": "text", "text": f"{len(body['messages'])} messages"}]
    )
    message = client.messages.create(
        model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "q"}]
    )
    assert message.content[0].text == "1 messages"


def test_unscripted_request_fails_once_without_sdk_retry(fake: FakeAnthropic) -> None:
    """Without a scripted reply the fake answers 500 and tells the SDK not to retry."""
    with (
        anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=2) as c,
        pytest.raises(anthropic.InternalServerError),
    ):
        c.messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "q"}])
    assert len(fake.calls) == 1


def raw_post(fake: FakeAnthropic, headers: dict[str, str]) -> int:
    """POST a minimal Messages body with exactly ``headers``; return the HTTP status."""
    body = {"model": MODEL, "max_tokens": 5, "messages": []}
    return httpx2.post(f"{fake.base_url}/v1/messages", json=body, headers=headers).status_code


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"anthropic-version": "2023-06-01"}, 401),
        ({"x-api-key": "k"}, 400),
    ],
    ids=["missing-key", "missing-version"],
)
def test_rejects_requests_missing_required_headers(
    fake: FakeAnthropic, headers: dict[str, str], status: int
) -> None:
    """A request without a key is 401 and one without anthropic-version is 400."""
    assert raw_post(fake, headers) == status


def test_count_tokens_matches_the_approximation(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """count_tokens answers the same deterministic count the usage is built from."""
    body = cached_request()
    del body["max_tokens"]
    assert client.messages.count_tokens(**body).input_tokens == count_input_tokens(body)


def test_first_call_writes_cache_second_call_reads(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """An identical cached prefix is written by the first request and read by the second."""
    first = send(client, fake, cached_request(user="one"))
    second = send(client, fake, cached_request(user="two"))
    assert (first.cache_read_input_tokens, second.cache_read_input_tokens) == (
        0,
        first.cache_creation_input_tokens,
    )


def test_usage_parts_add_up_to_the_prompt(fake: FakeAnthropic, client: anthropic.Anthropic) -> None:
    """input + cache read + cache creation equals the whole prompt's token count."""
    body = cached_request()
    usage = send(client, fake, body)
    parts = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
    assert (parts, usage.cache_creation_input_tokens > 0) == (count_input_tokens(body), True)


def test_changed_system_prompt_does_not_read_cache(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """A different system prompt is a different prefix: nothing is read."""
    send(client, fake, cached_request(system=LONG))
    usage = send(client, fake, cached_request(system=LONG + " Be brief."))
    assert usage.cache_read_input_tokens == 0


def test_expired_cache_entry_is_not_read(
    fake: FakeAnthropic, client: anthropic.Anthropic, clock: ManualClock
) -> None:
    """After the 5-minute TTL the prefix is written again instead of read."""
    send(client, fake, cached_request())
    clock.now += 301
    usage = send(client, fake, cached_request())
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens > 0) == (0, True)


def test_one_hour_ttl_survives_ten_minutes(
    fake: FakeAnthropic, client: anthropic.Anthropic, clock: ManualClock
) -> None:
    """A breakpoint with ttl "1h" is still read after ten minutes."""
    first = send(client, fake, cached_request(ttl="1h"))
    clock.now += 600
    usage = send(client, fake, cached_request(ttl="1h"))
    assert usage.cache_read_input_tokens == first.cache_creation_input_tokens


def test_more_than_four_breakpoints_is_a_400(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """Five cache_control blocks are refused with a 400 like the real API."""
    marker = {"type": "ephemeral"}
    system = [{"type": "text", "text": f"part {i}", "cache_control": marker} for i in range(5)]
    fake.enqueue_text("never sent")
    with pytest.raises(anthropic.BadRequestError, match="maximum of 4"):
        client.messages.create(
            model=MODEL, max_tokens=5, system=system, messages=[{"role": "user", "content": "q"}]
        )


def test_moved_breakpoint_reads_the_earlier_prefix(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    """A conversation that grows reads the prefix written at the previous last breakpoint."""
    marker = {"type": "ephemeral"}
    turn1 = [{"role": "user", "content": [{"type": "text", "text": LONG, "cache_control": marker}]}]
    first = send(client, fake, {"model": MODEL, "max_tokens": 5, "messages": turn1})
    turn2 = [
        {"role": "user", "content": [{"type": "text", "text": LONG}]},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        {"role": "user", "content": [{"type": "text", "text": "next", "cache_control": marker}]},
    ]
    second = send(client, fake, {"model": MODEL, "max_tokens": 5, "messages": turn2})
    assert (second.cache_read_input_tokens, second.cache_creation_input_tokens > 0) == (
        first.cache_creation_input_tokens,
        True,
    )


def test_prefix_below_minimum_is_not_cached(clock: ManualClock) -> None:
    """With a 1024-token minimum, a short cached prefix is neither written nor read."""
    with (
        FakeAnthropic(clock=clock, min_cacheable_tokens=1024) as server,
        anthropic.Anthropic(api_key="k", base_url=server.base_url, max_retries=0) as c,
    ):
        send(c, server, cached_request())
        usage = send(c, server, cached_request())
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (0, 0)
