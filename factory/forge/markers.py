"""Hidden markers: how the factory recognises, after a crash, what it already wrote to GitHub.

Every body the factory writes (issue, comment, review, pull request) ends with exactly one
line::

    <!-- factoryd:v1 run=<run_id> key=<idempotency_key> -->

``run_id`` and ``key`` are made of ``A-Z a-z 0-9 : . _ -`` (no spaces, no ``>``), so the
marker is one HTML comment that GitHub renders as nothing. ``parse_markers`` reads only this
exact form. Agent-written text goes through ``strip_markers`` first, which removes every HTML
comment that mentions ``factoryd`` in any case (closed or not), so an agent cannot forge a
marker and make a retry believe an output was already performed.

Stripping repeats until nothing changes: one pass over ``<!-<!-- factoryd -->- factoryd:v1 …
-->`` removes only the inner comment and *joins* the outer one into a valid marker. At the
fixed point no HTML comment that mentions factoryd is left, hence no marker. A pass is linear
in the text; after ``MAX_STRIP_PASSES`` passes that still changed something (comments nested
that deep are an attack, not prose) every remaining ``<!--`` is escaped as ``&lt;!--``, which
creates no new ``<!--``, so no comment and no marker can be left either way. Callers that
remove other characters too (the sanitizer's invisible code points) must do that *before*
stripping markers, or the removal could join a marker again.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

MARKER_VERSION = "v1"
"""Version of the marker format written today."""

_WORD = r"[A-Za-z0-9:._-]{1,200}"
_TOKEN_RE = re.compile(_WORD)
_MARKER_RE = re.compile(rf"<!-- factoryd:v1 run=(?P<run>{_WORD}) key=(?P<key>{_WORD}) -->")
_NAME_RE = re.compile("factoryd", re.I)
_OPEN, _CLOSE = "<!--", "-->"
_OPEN_RE = re.compile(re.escape(_OPEN))

MAX_STRIP_PASSES = 8
"""Stripping passes before the remaining comment openers are escaped instead."""


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
        if not _TOKEN_RE.fullmatch(value):
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
    """Return ``text`` without anything marker-like (any HTML comment mentioning factoryd).

    Strips to a fixed point, so comments nested or split to rebuild a marker are gone too;
    past ``MAX_STRIP_PASSES`` passes, every ``<!--`` left is escaped (module docstring).
    """
    for _ in range(MAX_STRIP_PASSES):
        stripped = _strip_once(text)
        if stripped == text:
            return text
        text = stripped
    return text.replace(_OPEN, "&lt;!--")


def _strip_once(text: str) -> str:
    """Remove each HTML comment (closed, or running to the end) whose content names factoryd.

    One left-to-right scan over the openers (``<!--`` cannot overlap itself, so the regex's
    non-overlapping matches are every opener): for the opener at ``i`` the comment ends at
    the first ``-->`` at or after ``i + 4``, which stays the same for every later opener
    before it, so it is searched once per comment, not once per opener (linear, not
    quadratic, on ``<!--<!--…``). Openers inside a comment already removed are skipped.
    """
    names = [m.start() for m in _NAME_RE.finditer(text)]
    kept: list[str] = []
    copied = 0
    close = -1
    for found_opener in _OPEN_RE.finditer(text):
        opener = found_opener.start()
        if opener < copied:
            continue
        start = opener + len(_OPEN)
        if close < start:
            found = text.find(_CLOSE, start)
            close = len(text) if found == -1 else found
        name = bisect_left(names, start)
        if name < len(names) and names[name] + len("factoryd") <= close:
            kept.append(text[copied:opener])
            copied = close + len(_CLOSE)
    kept.append(text[copied:])
    return "".join(kept)
