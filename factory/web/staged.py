"""Staged outputs as the viewer shows them: what a staged run *would have* written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from factory.store.records import OutputRecord

STAGED = "staged"
"""The outputs-table status of a request recorded as would-have and not performed."""


def would_have(outputs: Sequence[OutputRecord]) -> list[dict[str, Any]]:
    """Return the staged ones of ``outputs``, in order, as {output_id, kind, target, fields}:
    ``fields`` is the checked, sanitized request (title, body, labels, text…) as it would
    have been sent."""
    found = []
    for output in outputs:
        if output.status != STAGED:
            continue
        request = output.request if isinstance(output.request, dict) else {}
        payload = request.get("payload")
        found.append(
            {
                "output_id": output.id,
                "kind": output.kind,
                "target": request.get("target"),
                "fields": dict(payload) if isinstance(payload, dict) else {},
                "requested_at": output.created_at.isoformat(),
            }
        )
    return found
