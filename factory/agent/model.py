"""AnthropicModel: the ``Model`` protocol on the official ``anthropic`` SDK, streaming.

Retries happen in two layers. The SDK retries 408/409/429/5xx itself (``max_retries``),
honouring ``retry-after``. On top of that, an overloaded API (529 ``overloaded_error``, also
when it arrives as an SSE ``error`` event mid-stream, which the SDK never retries) and a
stream whose connection drops after it started (``httpx2.TransportError`` while reading, which
the SDK never retries either) get ``overloaded_retries`` more attempts with exponential
backoff and jitter.

A spend-limit or billing refusal is raised at once as ``SpendLimitReached``. The monthly
spend cap comes as a 429 ``rate_limit_error`` with ``error.details.error_code =
enforced_spend_limit_reached`` (the SDK's ``EnforcedSpendLimitReachedError``, a
``RateLimitError`` it would retry like any 429), so a client middleware stops the SDK's
retry loop for it on the first answer. A request the API rejects as such (4xx other than
408/409/429, e.g. 413 ``request_too_large``) is ``ModelRequestRejected``: not retryable, since
the same request would fail again. Every other failure becomes ``ModelError`` (retryable)
naming the status, error type and request id. The API key lives only inside the SDK client:
it is never logged and never part of an exception message.
"""

from __future__ import annotations

import inspect
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import anthropic
import httpx2  # the SDK's HTTP client: its transport errors escape a stream being read
import structlog
from anthropic.resources.messages import Messages
from pydantic import SecretStr

from factory.errors import ModelError, ModelRequestRejected, SpendLimitReached
from factory.interfaces import ModelReply, Usage

log = structlog.get_logger(__name__)

_SPEND_LIMIT = re.compile(
    r"credit balance|spend(ing)? limit|usage limit|billing|purchase credits", re.IGNORECASE
)
SPEND_LIMIT_CODES = frozenset(
    {
        "enforced_spend_limit_reached",
        "contract_spend_limit_reached",
        "linked_organization_spend_limit_reached",
    }
)
"""``error.details.error_code`` values that mean a spend cap, whatever the HTTP status."""
_RETRIED_4XX = frozenset({408, 409, 429})
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


def error_code(err: anthropic.APIStatusError) -> str | None:
    """Return ``error.details.error_code`` of an API error body, if it has one."""
    body = err.body
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    code = details.get("error_code") if isinstance(details, dict) else None
    return code if isinstance(code, str) else None


def is_spend_limit(err: anthropic.APIStatusError) -> bool:
    """Return True when ``err`` is the provider refusing for credit, spend or billing limits."""
    if error_code(err) in SPEND_LIMIT_CODES:
        return True
    if err.status_code == 402 or err.type == "billing_error":
        return True
    if err.status_code in (400, 403):
        return bool(_SPEND_LIMIT.search(err.api_message or ""))
    return False


def is_overloaded(err: anthropic.APIStatusError) -> bool:
    """Return True when ``err`` says the API is overloaded (529, or an overloaded SSE event)."""
    return err.status_code == 529 or err.type == "overloaded_error"


def is_rejected(err: anthropic.APIStatusError) -> bool:
    """Return True when the API rejected the request itself: a 4xx other than 408/409/429."""
    return 400 <= err.status_code < 500 and err.status_code not in _RETRIED_4XX


class _UnretriedError(Exception):
    """Carries an API error out of the SDK's retry loop (raised without a cause, so the SDK,
    which follows ``__cause__`` chains, does not retry it)."""

    def __init__(self, error: anthropic.APIStatusError) -> None:
        super().__init__(error.status_code)
        self.error = error


def _stop_spend_limit_retries(
    request: anthropic.APIRequest, call_next: anthropic.CallNext
) -> anthropic.APIResponse[Any]:
    """SDK middleware: end the SDK's retries at the first spend-limit answer."""
    response = call_next(request)
    http = response.http_response
    if http.is_success:
        return response
    http.read()
    try:
        body: object = http.json()
    except ValueError:
        return response
    error = anthropic.APIStatusError(f"Error code: {http.status_code}", response=http, body=body)
    if is_spend_limit(error):
        raise _UnretriedError(error)
    return response


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
            middleware=[_stop_spend_limit_retries],
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

        Raises SpendLimitReached (never retried), ModelRequestRejected (the API refused the
        request itself; not retryable) or ModelError (retryable) once retries are exhausted.
        """
        known, extra = _split_body(request, _STREAM_PARAMS)
        model = str(request.get("model", ""))
        started = time.perf_counter()
        attempt = 0
        while True:
            try:
                try:
                    with self._client.messages.stream(**known, extra_body=extra or None) as stream:
                        message = stream.get_final_message()
                        request_id = stream.request_id
                except _UnretriedError as unretried:
                    raise unretried.error from None
                break
            except anthropic.APIStatusError as err:
                retry = is_overloaded(err) and not is_spend_limit(err)
                if retry and attempt < self.overloaded_retries:
                    attempt = self._retry(attempt, model, "overloaded", err.request_id)
                    continue
                raise self._failure(err, model) from None
            except httpx2.TransportError as err:
                # The stream started (the SDK had its 200) and then broke off.
                if attempt < self.overloaded_retries:
                    attempt = self._retry(attempt, model, type(err).__name__, None)
                    continue
                log.warning("model_call_failed", model=model, error_type=type(err).__name__)
                raise ModelError(
                    f"model {model!r}: the stream from {self.base_url} broke off: "
                    f"{type(err).__name__} (connection lost mid-reply)"
                ) from None
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

        Raises SpendLimitReached, ModelRequestRejected or ModelError when the API refuses.
        """
        body = {k: v for k, v in request.items() if k != "max_tokens"}
        known, extra = _split_body(body, _COUNT_PARAMS)
        try:
            try:
                result = self._client.messages.count_tokens(**known, extra_body=extra or None)
            except _UnretriedError as unretried:
                raise unretried.error from None
        except anthropic.APIStatusError as err:
            raise self._failure(err, str(request.get("model", ""))) from None
        return int(result.input_tokens)

    def _retry(self, attempt: int, model: str, why: str, request_id: str | None) -> int:
        """Sleep before transient retry ``attempt`` (0-based); return the next attempt number."""
        delay = self.backoff_s(attempt)
        log.info(
            "model_transient_retry",
            model=model,
            reason=why,
            attempt=attempt + 1,
            delay_s=round(delay, 3),
            request_id=request_id,
        )
        self._sleep(delay)
        return attempt + 1

    def _failure(self, err: anthropic.APIStatusError, model: str) -> ModelError:
        """Log ``err`` and return the exception it becomes (spend limit, rejected, or other)."""
        if is_spend_limit(err):
            log.warning(
                "model_spend_limit_reached",
                model=model,
                status=err.status_code,
                error_code=error_code(err),
                request_id=err.request_id,
            )
            return SpendLimitReached(self._describe(err, model))
        log.warning(
            "model_call_failed",
            model=model,
            status=err.status_code,
            error_type=err.type,
            request_id=err.request_id,
        )
        if is_rejected(err):
            return ModelRequestRejected(self._describe(err, model))
        return ModelError(self._describe(err, model))

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
