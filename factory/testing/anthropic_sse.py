"""The Messages API's server-sent event sequence for one finished message, as the API sends it.

message_start (empty content, input usage) → per block: content_block_start, one or more
content_block_delta (text_delta / input_json_delta), content_block_stop → message_delta
(stop reason, cumulative usage) → message_stop. Text and tool input arrive in several pieces so
that clients must really accumulate them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

CHUNK = 16


def _event(name: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _pieces(text: str) -> list[str]:
    return [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)] or [""]


def _block_events(index: int, block: Mapping[str, Any]) -> Iterator[bytes]:
    kind = block.get("type")
    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        yield _event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        )
        for piece in _pieces(str(block.get("text", ""))):
            delta = {"type": "text_delta", "text": piece}
            yield _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
    elif kind == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        yield _event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        )
        for piece in _pieces(json.dumps(block.get("input", {}), separators=(",", ":"))):
            delta = {"type": "input_json_delta", "partial_json": piece}
            yield _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
    else:
        # Other block kinds (thinking, server tools) are sent whole in the start event.
        yield _event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": dict(block)},
        )
    yield _event("content_block_stop", {"type": "content_block_stop", "index": index})


def message_events(message: Mapping[str, Any]) -> Iterator[bytes]:
    """Yield the encoded SSE events that stream ``message`` (a full Messages API message)."""
    usage = dict(message["usage"])
    start_usage = {**usage, "output_tokens": 1}
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = start_usage
    yield _event("message_start", {"type": "message_start", "message": start})
    yield _event("ping", {"type": "ping"})
    for index, block in enumerate(message["content"]):
        yield from _block_events(index, block)
    delta_usage = {
        k: usage[k]
        for k in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        )
        if k in usage
    }
    yield _event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": delta_usage,
        },
    )
    yield _event("message_stop", {"type": "message_stop"})


def failed_stream_events(
    model: str,
    error_type: str,
    message: str,
    request_id: str,
    *,
    details: Mapping[str, Any] | None = None,
) -> Iterator[bytes]:
    """Yield a stream that starts a message and then fails with an SSE ``error`` event.

    ``details`` is sent as ``error.details`` (e.g. an ``error_code``) when given.
    """
    start: dict[str, Any] = {
        "id": f"msg_{request_id}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    yield _event("message_start", {"type": "message_start", "message": start})
    error: dict[str, Any] = {"type": error_type, "message": message}
    if details is not None:
        error["details"] = dict(details)
    yield _event("error", {"type": "error", "error": error, "request_id": request_id})
