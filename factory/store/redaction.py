"""Redaction at write time: no configured secret value reaches the SQLite file.

Whatever the store writes from text it did not make itself (step text and payloads, which
hold the model's own words and tool output; prompt snapshots; stop reasons and errors;
output requests and results; event payloads) passes through the process-wide
``factory.logs.redactor`` first, so a secret the model repeats is stored as ``[redacted]``.
JSON values are redacted element by element, keys included, before they are serialized, so
a secret with characters JSON escapes (quotes, backslashes) is caught in its raw form.
This is the store's last line of defence; keeping secrets out of the model's reach is the
plan. Values the redactor does not know (a run's canaries) are not redacted here.
"""

from __future__ import annotations

from typing import Any, overload

from factory.logs import redactor


@overload
def redact_text(text: str) -> str: ...
@overload
def redact_text(text: None) -> None: ...
def redact_text(text: str | None) -> str | None:
    """Return ``text`` with every registered secret replaced (None stays None)."""
    return None if text is None else redactor.scrub(text)


def redact_json(value: Any) -> Any:
    """Return a JSON-able ``value`` with secrets replaced in every string, keys included.

    Dicts, lists and tuples are rebuilt (a tuple becomes a list, as JSON stores it); numbers,
    booleans, None and anything else are returned as they are.
    """
    if isinstance(value, str):
        return redactor.scrub(value)
    if isinstance(value, dict):
        return {redact_json(k): redact_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_json(v) for v in value]
    return value
