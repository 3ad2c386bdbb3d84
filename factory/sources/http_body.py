"""What every signed-webhook route shares: the capped body read and the refusal it raises.

The body is read before anything is parsed, so its size is judged first by
``Content-Length`` and then by counting while reading: a sender cannot make the daemon
buffer more than ``max_body`` bytes, whatever it declares.
"""

from __future__ import annotations

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
