"""What every signed-webhook route shares: the capped body read, the signed headers' checks,
and the refusal they raise.

The body is read before anything is parsed, so its size is judged first by
``Content-Length`` and then by counting while reading: a sender cannot make the daemon
buffer more than ``max_body`` bytes, whatever it declares.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.requests import Request


class RejectedError(Exception):
    """A request refused with an HTTP status; ``reason`` goes to the log and the reply."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


async def read_capped(request: Request, max_body: int) -> bytes:
    """Return the raw body; raises RejectedError(413) past ``max_body``, (400) on bad length."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise RejectedError(400, "bad_content_length")
        if int(declared) > max_body:
            raise RejectedError(413, "body_too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise RejectedError(413, "body_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def header_value(headers: Mapping[str, str], name: str, form: re.Pattern[str], what: str) -> str:
    """Return header ``name``, stripped; raises RejectedError(401) ``missing_<what>`` when it
    is absent and ``malformed_<what>`` when it is not wholly of ``form``."""
    value = headers.get(name)
    if value is None:
        raise RejectedError(401, f"missing_{what}")
    value = value.strip()
    if form.fullmatch(value) is None:
        raise RejectedError(401, f"malformed_{what}")
    return value


def check_fresh(stamp: float, now: float, *, max_age_s: float, max_ahead_s: float) -> None:
    """Raise RejectedError(401) ``stale_timestamp`` unless ``stamp`` is at most ``max_age_s``
    before ``now`` and at most ``max_ahead_s`` after it (a replayed or forged delivery)."""
    age = now - stamp
    if age > max_age_s or age < -max_ahead_s:
        raise RejectedError(401, "stale_timestamp")
