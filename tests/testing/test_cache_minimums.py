"""FakeAnthropic caches like the real API: per-model minimum lengths, TTLs and their order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from factory.cacherules import min_cacheable_tokens
from factory.testing import FakeAnthropic
from tests.conftest import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    """A clock the fake reads for cache expiry."""
    return ManualClock()


@pytest.fixture
def client(clock: ManualClock) -> Iterator[tuple[FakeAnthropic, anthropic.Anthropic]]:
    """A FakeAnthropic with its default (real) minimums, and the SDK pointed at it."""
    with (
        FakeAnthropic(clock=clock) as fake,
        anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=0) as sdk,
    ):
        yield fake, sdk


def _request(model: str, system_chars: int, ttls: tuple[str, ...] = ("5m",)) -> dict[str, Any]:
    """A request whose system prompt (about system_chars / 4 tokens) ends at a breakpoint."""
    system = [
        {
            "type": "text",
            "text": "s" * system_chars,
            "cache_control": {"type": "ephemeral", "ttl": ttls[0]},
        }
    ]
    content: list[dict[str, Any]] = [{"type": "text", "text": "hello"}]
    if len(ttls) > 1:
        content[0]["cache_control"] = {"type": "ephemeral", "ttl": ttls[1]}
    return {
        "model": model,
        "max_tokens": 10,
        "system": system,
        "messages": [{"role": "user", "content": content}],
    }


def _usage(client: tuple[FakeAnthropic, anthropic.Anthropic], body: dict[str, Any]) -> Any:
    fake, sdk = client
    fake.enqueue_text("ok")
    return sdk.messages.create(**body).usage


@pytest.mark.parametrize(
    ("model", "minimum"),
    [
        ("claude-haiku-4-5", 4096),
        ("claude-haiku-4-5-20251001", 4096),
        ("claude-opus-4-5", 4096),
        ("claude-opus-4-6", 4096),
        ("claude-opus-5", 4096),
        ("claude-opus-4-1-20250805", 1024),
        ("claude-opus-4-20250514", 1024),
        ("claude-sonnet-4-5", 1024),
        ("claude-sonnet-5", 1024),
        ("claude-3-5-haiku-20241022", 2048),
        ("claude-3-haiku-20240307", 2048),
        ("claude-3-7-sonnet-20250219", 1024),
        ("something-else", 1024),
    ],
)
def test_minimum_cacheable_length_per_model(model: str, minimum: int) -> None:
    """Each model id maps to its documented minimum cacheable prefix length."""
    assert min_cacheable_tokens(model) == minimum


def test_haiku_prefix_of_2000_tokens_is_not_cached(client: Any) -> None:
    """On Haiku 4.5 a ~2,000-token prefix is below 4,096: nothing written, nothing read."""
    _usage(client, _request("claude-haiku-4-5", 8000))
    usage = _usage(client, _request("claude-haiku-4-5", 8000))
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (0, 0)


def test_same_prefix_is_cached_on_sonnet(client: Any) -> None:
    """The same ~2,000-token prefix on a Sonnet-class model (1,024) is written then read."""
    first = _usage(client, _request("claude-sonnet-5", 8000))
    second = _usage(client, _request("claude-sonnet-5", 8000))
    assert (first.cache_creation_input_tokens > 2000, second.cache_read_input_tokens) == (
        True,
        first.cache_creation_input_tokens,
    )


def test_haiku_prefix_over_4096_tokens_is_cached(client: Any) -> None:
    """On Haiku 4.5 a ~5,000-token prefix is written to the cache."""
    usage = _usage(client, _request("claude-haiku-4-5", 20_000))
    assert usage.cache_creation_input_tokens > 4096


def test_one_hour_entry_outlives_five_minutes(client: Any, clock: ManualClock) -> None:
    """A ttl "1h" prefix is still read 30 minutes later; its write counts as 1h tokens."""
    first = _usage(client, _request("claude-sonnet-5", 8000, ("1h",)))
    clock.now += 30 * 60
    later = _usage(client, _request("claude-sonnet-5", 8000, ("1h",)))
    written_1h = first.cache_creation.ephemeral_1h_input_tokens
    assert (written_1h, later.cache_read_input_tokens) == (
        first.cache_creation_input_tokens,
        first.cache_creation_input_tokens,
    )


def test_five_minute_entry_is_gone_after_six_minutes(client: Any, clock: ManualClock) -> None:
    """A default (5m) prefix is not read 6 minutes later."""
    _usage(client, _request("claude-sonnet-5", 8000))
    clock.now += 6 * 60
    later = _usage(client, _request("claude-sonnet-5", 8000))
    assert later.cache_read_input_tokens == 0


def test_one_hour_after_five_minutes_is_a_400(client: Any) -> None:
    """A 1h breakpoint after a 5m one is refused with 400 invalid_request_error."""
    with pytest.raises(anthropic.BadRequestError) as caught:
        _usage(client, _request("claude-sonnet-5", 8000, ("5m", "1h")))
    assert (caught.value.status_code, caught.value.body["error"]["type"]) == (  # type: ignore[index]
        400,
        "invalid_request_error",
    )


def test_one_hour_before_five_minutes_is_accepted(client: Any) -> None:
    """A 1h prefix followed by a 5m breakpoint is the allowed order."""
    usage = _usage(client, _request("claude-sonnet-5", 8000, ("1h", "5m")))
    assert usage.cache_creation.ephemeral_1h_input_tokens > 0
