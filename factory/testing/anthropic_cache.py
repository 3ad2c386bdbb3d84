"""Token counting and prompt-cache accounting for FakeAnthropic, modelled on the real API.

Tokens are a deterministic approximation: ``len(canonical JSON of a block) // 4``, at least 1
per block. The prompt is walked in the API's cache order: tools, then system, then messages.
A block carrying ``cache_control`` is a breakpoint; the prefix ending at it (hashed as the
canonical JSON of the model and every block up to and including it, markers stripped) is
written to the cache when the request is served, and read by a later request whose prefix
hashes the same within the TTL. Like the real API, a read may hit at any block position up to
``LOOKBACK`` blocks before a breakpoint, so a cache written at an earlier request's breakpoint
is found even when the breakpoints have moved on.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from factory.cacherules import min_cacheable_tokens as model_minimum

MAX_BREAKPOINTS = 4
LOOKBACK = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


class CacheRequestError(ValueError):
    """The request's cache_control markers are invalid (the API answers 400)."""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _strip_marker(block: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "cache_control"}


def approx_tokens(value: Any) -> int:
    """Return the approximate token count of one block or value (at least 1)."""
    if isinstance(value, Mapping):
        value = _strip_marker(value)
    return max(1, len(_canonical(value)) // 4)


@dataclass(frozen=True)
class PromptBlock:
    """One cacheable unit of a prompt, in cache order."""

    body: dict[str, Any]
    """The block without its cache_control marker."""
    tokens: int
    """Its approximate token count."""
    ttl: float | None
    """The TTL in seconds if the block is a cache breakpoint, else None."""


def prompt_blocks(request: Mapping[str, Any]) -> list[PromptBlock]:
    """Flatten a Messages request into blocks in cache order (tools → system → messages).

    Raises CacheRequestError for an unknown ``ttl``, more than 4 breakpoints, or a 1-hour
    breakpoint after a 5-minute one.
    """
    raw: list[tuple[dict[str, Any], Any]] = []
    for tool in request.get("tools") or []:
        raw.append(({"tool": _strip_marker(tool)}, tool.get("cache_control")))
    system = request.get("system")
    if isinstance(system, str):
        raw.append(({"system": {"type": "text", "text": system}}, None))
    elif isinstance(system, list):
        for block in system:
            raw.append(({"system": _strip_marker(block)}, block.get("cache_control")))
    for message in request.get("messages") or []:
        role = message.get("role")
        content = message.get("content")
        if isinstance(content, str):
            raw.append(({role: {"type": "text", "text": content}}, None))
            continue
        for block in content or []:
            raw.append(({role: _strip_marker(block)}, block.get("cache_control")))
    top = request.get("cache_control")
    if top is not None and raw and raw[-1][1] is None:
        # Automatic caching: a top-level marker applies to the last cacheable block.
        raw[-1] = (raw[-1][0], top)
    blocks: list[PromptBlock] = []
    for body, marker in raw:
        ttl: float | None = None
        if marker is not None:
            name = marker.get("ttl", "5m") if isinstance(marker, Mapping) else "5m"
            if name not in TTL_SECONDS:
                raise CacheRequestError(f"cache_control.ttl: invalid value {name!r}")
            ttl = TTL_SECONDS[name]
        blocks.append(PromptBlock(body=body, tokens=approx_tokens(body), ttl=ttl))
    ttls = [b.ttl for b in blocks if b.ttl is not None]
    if any(later > earlier for earlier, later in itertools.pairwise(ttls)):
        # The API's rule: longer-lived entries first (1h breakpoints before 5m ones).
        raise CacheRequestError(
            "cache_control: a ttl='1h' cache_control block must not come after a "
            "ttl='5m' cache_control block"
        )
    found = len(ttls)
    if found > MAX_BREAKPOINTS:
        raise CacheRequestError(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {found}."
        )
    return blocks


@dataclass(frozen=True)
class CacheUsage:
    """The input-side usage of one request."""

    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    ephemeral_5m_input_tokens: int = 0
    ephemeral_1h_input_tokens: int = 0


class PromptCache:
    """An in-memory prompt cache keyed by prefix hash, with per-entry expiry; thread-safe."""

    def __init__(self, clock: Callable[[], float], min_cacheable_tokens: int | None = None) -> None:
        """Use ``clock`` for expiry; ``min_cacheable_tokens`` overrides the per-model minimum.

        None (the default) applies each request's model's minimum, as the real API does.
        Raises ValueError for a negative override.
        """
        if min_cacheable_tokens is not None and min_cacheable_tokens < 0:
            raise ValueError("min_cacheable_tokens must be >= 0")
        self._clock = clock
        self._min = min_cacheable_tokens
        self._entries: dict[str, float] = {}
        self._ttls: dict[str, float] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every cache entry."""
        with self._lock:
            self._entries.clear()
            self._ttls.clear()

    def account(self, request: Mapping[str, Any]) -> CacheUsage:
        """Serve one request's prompt: find the longest cached prefix, write new breakpoints.

        Returns the usage split. Raises CacheRequestError for invalid markers.
        """
        blocks = prompt_blocks(request)
        model = request.get("model", "")
        minimum = self._min if self._min is not None else model_minimum(str(model))
        hashes: list[str] = []
        running = hashlib.sha256(_canonical(model).encode())
        cum: list[int] = []
        total = 0
        for block in blocks:
            running.update(_canonical(block.body).encode())
            hashes.append(running.copy().hexdigest())
            total += block.tokens
            cum.append(total)
        breakpoints = [i for i, b in enumerate(blocks) if b.ttl is not None]
        with self._lock:
            now = self._clock()
            read_pos = -1
            for bp in breakpoints:
                for j in range(bp, max(-1, bp - LOOKBACK - 1), -1):
                    expiry = self._entries.get(hashes[j])
                    if expiry is not None and expiry > now:
                        read_pos = max(read_pos, j)
                        break
            if read_pos >= 0:
                # A hit refreshes the entry's lifetime, as the real cache does.
                key = hashes[read_pos]
                self._entries[key] = now + self._ttls[key]
            read = cum[read_pos] if read_pos >= 0 else 0
            written_to = read_pos
            by_ttl = {300.0: 0, 3600.0: 0}
            for bp in breakpoints:
                ttl = blocks[bp].ttl
                if bp <= read_pos or ttl is None or cum[bp] < minimum:
                    continue
                self._entries[hashes[bp]] = now + ttl
                self._ttls[hashes[bp]] = ttl
                previous = cum[written_to] if written_to >= 0 else 0
                by_ttl[ttl] += cum[bp] - previous
                written_to = bp
        created = (cum[written_to] - read) if written_to > read_pos else 0
        return CacheUsage(
            input_tokens=total - read - created,
            cache_creation_input_tokens=created,
            cache_read_input_tokens=read,
            ephemeral_5m_input_tokens=by_ttl[300.0],
            ephemeral_1h_input_tokens=by_ttl[3600.0],
        )


def count_input_tokens(request: Mapping[str, Any]) -> int:
    """Return the approximate input tokens of a request, as count_tokens answers.

    Raises CacheRequestError for invalid cache markers.
    """
    return sum(b.tokens for b in prompt_blocks(request))
