"""AnthropicModel: the ``Model`` protocol on the official ``anthropic`` SDK, streaming.

Retries happen in two layers. The SDK retries 408/409/429/5xx itself (``max_retries``),
honouring ``retry-after``. On top of that, an overloaded API (529 ``overloaded_error``, also
when it arrives as an SSE ``error`` event mid-stream, which the SDK never retries) gets
``overloaded_retries`` more attempts with exponential backoff and jitter. A spend-limit or
billing refusal is raised at once as ``SpendLimitReached``. Every other failure becomes
``ModelError`` naming the status, error type and request id. The API key lives only inside
the SDK client: it is never logged and never part of an exception message.
"""

from __future__ import annotations

import inspect
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import anthropic
import structlog
from anthropic.resources.messages import Messages
from pydantic import SecretStr

from factory.errors import ModelError, SpendLimitReached
from factory.interfaces import ModelReply, Usage

log = structlog.get_logger(__name__)

_SPEND_LIMIT = re.compile(
    r"credit balance|spend(ing)? limit|usage limit|billing|purchase credits", re.IGNORECASE
)
_STREAM_PARAMS = frozenset(inspect.signature(Messages.stream).parameters) - {"self"}
_COUNT_PARAMS = frozenset(inspect.signature(Messages.count_tokens).parameters) - {"self"}
_DROPPED = frozenset({"stream"})


def _split_body(
    request: Mapping[str, Any], params: frozenset[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (keyword arguments the SDK method knows, everything else as extra_body)."""
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in request.items():
        if key in _DROPPED:
            continue
        if key in params and not key.startswith("extra_") and key != "timeout":
            known[key] = value
        else:
            extra[key] = value
    return known, extra


def is_spend_limit(err: anthropic.APIStatusError) -> bool:
    """Return True when ``err`` is the provider refusing for credit, spend or billing limits."""
    if err.status_code == 402 or err.type == "billing_error":
        return True
    if err.status_code in (400, 403):
        return bool(_SPEND_LIMIT.search(err.api_message or ""))
    return False


def is_overloaded(err: anthropic.APIStatusError) -> bool:
    """Return True when ``err`` says the API is overloaded (529, or an overloaded SSE event)."""
    return err.status_code == 529 or err.type == "overloaded_error"


def _plain_block(block: Any) -> dict[str, Any]:
    data: dict[str, Any] = block.to_dict(mode="json", exclude_none=True)
    data.pop("parsed_output", None)
    return data


class AnthropicModel:
    """A ``Model`` that talks to the Anthropic Messages API (or FakeAnthropic) by streaming."""

    def __init__(
        self,
        api_key: SecretStr | str,
        base_url: str | None = None,
        *,
        max_retries: int = 2,
        timeout: float = 600.0,
        overloaded_retries: int = 3,
        backoff_base_s: float = 2.0,
        backoff_max_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        """Build the SDK client.

        Raises ValueError for an empty key or negative retry counts or delays.
        """
        secret = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not secret.get_secret_value():
            raise ValueError("api_key must not be empty")
        if max_retries < 0 or overloaded_retries < 0:
            raise ValueError("retry counts must be >= 0")
        if backoff_base_s < 0 or backoff_max_s < 0 or timeout <= 0:
            raise ValueError("backoff delays must be >= 0 and timeout > 0")
        self._client = anthropic.Anthropic(
            api_key=secret.get_secret_value(),
            base_url=base_url,
            max_retries=max_retries,
            timeout=timeout,
        )
        self.base_url = str(self._client.base_url)
        self.overloaded_retries = overloaded_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._rng = rng or random.Random()

    def __repr__(self) -> str:
        return f"AnthropicModel(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the SDK client's connection pool."""
        self._client.close()

    def backoff_s(self, attempt: int) -> float:
        """Return the delay before overloaded retry ``attempt`` (0-based): capped, jittered."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2.0**attempt))
        return ceiling * (0.5 + 0.5 * self._rng.random())

    def create(self, request: Mapping[str, Any]) -> ModelReply:
        """Send one Messages API request body by streaming; return the assembled reply.

        Raises SpendLimitReached (never retried) or ModelError once retries are exhausted.
        """
        known, extra = _split_body(request, _STREAM_PARAMS)
        model = str(request.get("model", ""))
        started = time.perf_counter()
        attempt = 0
        while True:
            try:
                with self._client.messages.stream(**known, extra_body=extra or None) as stream:
                    message = stream.get_final_message()
                    request_id = stream.request_id
                break
            except anthropic.APIStatusError as err:
                if is_spend_limit(err):
                    log.warning(
                        "model_spend_limit_reached",
                        model=model,
                        status=err.status_code,
                        request_id=err.request_id,
                    )
                    raise SpendLimitReached(self._describe(err, model)) from None
                if is_overloaded(err) and attempt < self.overloaded_retries:
                    delay = self.backoff_s(attempt)
                    attempt += 1
                    log.info(
                        "model_overloaded_retry",
                        model=model,
                        attempt=attempt,
                        delay_s=round(delay, 3),
                        request_id=err.request_id,
                    )
                    self._sleep(delay)
                    continue
                log.warning(
                    "model_call_failed",
                    model=model,
                    status=err.status_code,
                    error_type=err.type,
                    request_id=err.request_id,
                )
                raise ModelError(self._describe(err, model)) from None
            except anthropic.APIConnectionError as err:
                log.warning("model_call_failed", model=model, error_type=type(err).__name__)
                raise ModelError(
                    f"model {model!r}: cannot reach {self.base_url}: {type(err).__name__}"
                ) from None
        latency_ms = (time.perf_counter() - started) * 1000.0
        reply = self._reply(message, latency_ms)
        log.info(
            "model_call_finished",
            model=model,
            request_id=request_id,
            stop_reason=reply.stop_reason,
            input_tokens=reply.usage.input_tokens,
            output_tokens=reply.usage.output_tokens,
            cache_read_input_tokens=reply.usage.cache_read_input_tokens,
            cache_creation_input_tokens=reply.usage.cache_creation_input_tokens,
            latency_ms=round(latency_ms, 1),
        )
        return reply

    def count_tokens(self, request: Mapping[str, Any]) -> int:
        """Return the input tokens the API counts for ``request``.

        Raises ModelError (or SpendLimitReached) when the API refuses.
        """
        body = {k: v for k, v in request.items() if k != "max_tokens"}
        known, extra = _split_body(body, _COUNT_PARAMS)
        try:
            result = self._client.messages.count_tokens(**known, extra_body=extra or None)
        except anthropic.APIStatusError as err:
            model = str(request.get("model", ""))
            if is_spend_limit(err):
                raise SpendLimitReached(self._describe(err, model)) from None
            raise ModelError(self._describe(err, model)) from None
        return int(result.input_tokens)

    def _describe(self, err: anthropic.APIStatusError, model: str) -> str:
        # Built from the parsed error fields only; the SDK's own message can carry the raw
        # body, and nothing here ever includes request headers.
        return (
            f"model {model!r}: HTTP {err.status_code} {err.type or 'error'}: "
            f"{err.api_message or 'no message'} (request_id {err.request_id or 'unknown'})"
        )

    @staticmethod
    def _reply(message: Any, latency_ms: float) -> ModelReply:
        usage = message.usage
        return ModelReply(
            content=[_plain_block(b) for b in message.content],
            stop_reason=message.stop_reason,
            usage=Usage(
                input_tokens=usage.input_tokens or 0,
                output_tokens=usage.output_tokens or 0,
                cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
                cache_read_input_tokens=usage.cache_read_input_tokens or 0,
            ),
            raw=message.to_dict(mode="json", exclude_none=True),
            latency_ms=latency_ms,
        )
