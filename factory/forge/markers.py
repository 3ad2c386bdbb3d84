"""Hidden markers: how the factory recognises, after a crash, what it already wrote to GitHub.

Every body the factory writes (issue, comment, review, pull request) ends with exactly one
line::

    <!-- factoryd:v1 run=<run_id> key=<idempotency_key> -->

``run_id`` and ``key`` are made of ``A-Z a-z 0-9 : . _ -`` (no spaces, no ``>``), so the
marker is one HTML comment that GitHub renders as nothing. ``parse_markers`` reads only this
exact form. Agent-written text goes through ``strip_markers`` first, which removes every HTML
comment that mentions ``factoryd`` in any case (closed or not), so an agent cannot forge a
marker and make a retry believe an output was already performed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKER_VERSION = "v1"
"""Version of the marker format written today."""

_WORD = r"[A-Za-z0-9:._-]{1,200}"
_TOKEN_RE = re.compile(rf"^{_WORD}$")
_MARKER_RE = re.compile(rf"<!-- factoryd:v1 run=(?P<run>{_WORD}) key=(?P<key>{_WORD}) -->")
# Anything marker-like: an HTML comment (closed, or running to the end of the text) whose
# content mentions "factoryd" in any case.
_MARKERISH_RE = re.compile(r"<!--(?:(?!-->).)*?factoryd(?:(?!-->).)*?(?:-->|\Z)", re.I | re.S)


@dataclass(frozen=True)
class Marker:
    """One parsed marker: the run that wrote an object and the output's idempotency key."""

    run_id: str
    key: str


def render_marker(run_id: str, key: str) -> str:
    """Return the marker line for ``run_id`` and ``key``.

    Raises ValueError if either contains characters outside ``A-Z a-z 0-9 : . _ -`` or is
    empty or longer than 200 characters.
    """
    for what, value in (("run id", run_id), ("idempotency key", key)):
        if not _TOKEN_RE.match(value):
            raise ValueError(f"{what} {value!r} cannot be put in a marker")
    return f"<!-- factoryd:{MARKER_VERSION} run={run_id} key={key} -->"


def append_marker(text: str, run_id: str, key: str) -> str:
    """Return ``text`` with the marker on its own last line (raises ValueError like render)."""
    marker = render_marker(run_id, key)
    return f"{text.rstrip()}\n\n{marker}" if text.strip() else marker


def parse_markers(text: str | None) -> list[Marker]:
    """Return every well-formed marker in ``text``, in order (empty for None)."""
    if not text:
        return []
    return [Marker(m["run"], m["key"]) for m in _MARKER_RE.finditer(text)]


def has_marker(text: str | None, key: str) -> bool:
    """Return True if ``text`` carries a well-formed marker with idempotency key ``key``."""
    return any(m.key == key for m in parse_markers(text))


def strip_markers(text: str) -> str:
    """Return ``text`` without anything marker-like (any HTML comment mentioning factoryd)."""
    return _MARKERISH_RE.sub("", text)
