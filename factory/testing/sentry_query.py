"""FakeSentry's issue search: the ``query`` syntax, the time window, sorting and cursors.

``GET /api/0/organizations/{org}/issues/`` parameters (docs.sentry.io/api/events/
list-an-organizations-issues/ and /concepts/search/searchable-properties/issues/):

- ``query`` (default ``is:unresolved``; ``query=`` for all): ``key:value`` tokens, ``!key:value``
  to negate, and free text matched against title, culprit and message. Keys: ``is`` (unresolved,
  resolved, ignored/archived, assigned, unassigned, and the substatuses new, ongoing,
  regressed, escalating), ``level``, ``environment``, ``release``, ``project`` (slug),
  ``issue`` (short id), ``timesSeen`` (``:>10``, ``:<=3``, ``:5``), and the times ``lastSeen``,
  ``firstSeen``, ``age`` (=firstSeen) as relative ``-24h`` (within the last 24 h) / ``+24h``
  (longer ago; units s m h d w) or absolute ``>2024-05-01T10:00:00``, ``>=``, ``<``, ``<=``.
  A poller asks for issues seen since its last poll with ``lastSeen:>=<ISO time>``, or
  with the ``start`` parameter below.
- ``statsPeriod`` (``24h``, ``14d``, …; overrides ``start``/``end``) or ``start``/``end`` (ISO):
  only issues with an event inside the window.
- ``project`` (numeric ids, repeatable; ``-1`` all), ``environment`` (repeatable).
- ``sort``: ``date`` (lastSeen, the default), ``new`` (firstSeen), ``freq`` (count), ``user``
  (userCount); newest/most first.
- ``limit`` (default and most 100) and ``cursor``.

Cursors are ``<value>:<offset>:<is_prev>`` as in Sentry: ``value`` is the sort key of the first
issue of the page the cursor points at (lastSeen/firstSeen in epoch milliseconds, or the
count), ``offset`` skips the issues with that same key already shown. The ``Link`` header always
holds a ``previous`` and a ``next`` link, each with ``results="true|false"``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from factory.testing.sentry_state import Issue, SentryApiError

MAX_LIMIT = 100
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SORTS: dict[str, Callable[[Issue], int]] = {
    "date": lambda i: int(i.last_seen.timestamp() * 1000),
    "new": lambda i: int(i.first_seen.timestamp() * 1000),
    "freq": lambda i: i.count,
    "user": lambda i: i.user_count,
}
SUBSTATUSES = {"new", "ongoing", "regressed", "escalating"}
IS_VALUES = {
    "unresolved",
    "resolved",
    "ignored",
    "archived",
    "assigned",
    "unassigned",
} | SUBSTATUSES


def _bad_query(text: str) -> SentryApiError:
    return SentryApiError(400, f"Error parsing search query: {text}")


def parse_time(value: str) -> datetime:
    """Return an ISO-8601 time (naive = UTC); raises SentryApiError 400."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise _bad_query(f"Invalid date: {value}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_period(value: str) -> timedelta:
    """Return a period such as ``24h`` or ``14d``; raises SentryApiError 400."""
    match = re.fullmatch(r"(\d+)([smhdw])", value)
    if not match:
        raise SentryApiError(400, f"Invalid statsPeriod: {value!r}")
    return timedelta(seconds=int(match[1]) * UNITS[match[2]])


def _time_test(value: str, now: datetime) -> Callable[[datetime], bool]:
    """Return the test of a datetime token value (``-24h``, ``+2d``, ``>=ISO``, …)."""
    rel = re.fullmatch(r"([+-])(\d+)([smhdw])", value)
    if rel:
        edge = now - timedelta(seconds=int(rel[2]) * UNITS[rel[3]])
        return (lambda t: t >= edge) if rel[1] == "-" else (lambda t: t <= edge)
    op_match = re.fullmatch(r"(>=|<=|>|<)?(.+)", value)
    assert op_match is not None
    op, when = op_match[1] or "=", parse_time(op_match[2])
    tests: dict[str, Callable[[datetime], bool]] = {
        ">": lambda t: t > when,
        ">=": lambda t: t >= when,
        "<": lambda t: t < when,
        "<=": lambda t: t <= when,
        "=": lambda t: when <= t < when + timedelta(seconds=1),
    }
    return tests[op]


def _number_test(value: str) -> Callable[[int], bool]:
    match = re.fullmatch(r"(>=|<=|>|<)?(\d+)", value)
    if not match:
        raise _bad_query(f"Invalid number: {value}")
    op, n = match[1] or "=", int(match[2])
    return {
        ">": lambda c: c > n,
        ">=": lambda c: c >= n,
        "<": lambda c: c < n,
        "<=": lambda c: c <= n,
        "=": lambda c: c == n,
    }[op]


def _is_test(value: str, issue: Issue) -> bool:
    if value == "unresolved":
        return issue.status == "unresolved"
    if value == "resolved":
        return issue.status == "resolved"
    if value in ("ignored", "archived"):
        return issue.status == "ignored"
    if value in ("assigned", "unassigned"):
        return (issue.assigned_to is not None) == (value == "assigned")
    if value in SUBSTATUSES:
        return issue.status == "unresolved" and issue.substatus == value
    raise _bad_query(f"Invalid value for is: {value}")


def _token_test(key: str, value: str, issue: Issue, now: datetime) -> bool:
    value_l = value.lower()
    if key == "is":
        return _is_test(value_l, issue)
    if key in ("lastSeen", "firstSeen", "age"):
        when = issue.last_seen if key == "lastSeen" else issue.first_seen
        return _time_test(value, now)(when)
    if key == "timesSeen":
        return _number_test(value)(issue.count)
    simple = {
        "level": [issue.level],
        "environment": sorted({e.environment for e in issue.events}),
        "release": issue.releases(),
        "project": [issue.project],
        "issue": [issue.short_id],
    }
    return value_l in [v.lower() for v in simple.get(key, [])]


def _validate(key: str, value: str) -> None:
    """Raise SentryApiError 400 for a token value Sentry could not parse."""
    if key in ("lastSeen", "firstSeen", "age"):
        _time_test(value, datetime.now(UTC))
    elif key == "timesSeen":
        _number_test(value)
    elif key == "is" and value.lower() not in IS_VALUES:
        raise _bad_query(f"Invalid value for is: {value}")


@dataclass
class Search:
    """A parsed ``query``: its ``key:value`` tokens and free text."""

    tokens: list[tuple[bool, str, str]]
    text: list[str]

    @classmethod
    def parse(cls, query: str) -> Search:
        """Parse a search query; raises SentryApiError 400 on bad quoting."""
        try:
            words = shlex.split(query)
        except ValueError:
            raise _bad_query(query) from None
        tokens: list[tuple[bool, str, str]] = []
        text: list[str] = []
        for word in words:
            key, sep, value = word.partition(":")
            if sep and key and value and re.fullmatch(r"!?[A-Za-z_.]+", key):
                tokens.append((key.startswith("!"), key.lstrip("!"), value))
                _validate(key.lstrip("!"), value)
            else:
                text.append(word.lower())
        return cls(tokens, text)

    def matches(self, issue: Issue, now: datetime) -> bool:
        """Return whether ``issue`` matches every token and the free text."""
        for negated, key, value in self.tokens:
            if _token_test(key, value, issue, now) == negated:
                return False
        hay = f"{issue.title} {issue.culprit} {issue.message}".lower()
        return all(word in hay for word in self.text)


def in_window(issue: Issue, start: datetime | None, end: datetime | None) -> bool:
    """Return whether an event of ``issue`` falls in ``[start, end]``."""
    return any(
        (start is None or e.when >= start) and (end is None or e.when <= end) for e in issue.events
    )


@dataclass
class Cursor:
    """A parsed ``<value>:<offset>:<is_prev>`` cursor."""

    value: int
    offset: int
    is_prev: bool

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """Parse a cursor; raises SentryApiError 400 ``Invalid cursor parameter.``"""
        if text is None:
            return None
        parts = text.split(":")
        if len(parts) != 3 or not all(re.fullmatch(r"-?\d+", p) for p in parts):
            raise SentryApiError(400, "Invalid cursor parameter.")
        return cls(int(parts[0]), int(parts[1]), parts[2] == "1")

    def __str__(self) -> str:
        return f"{self.value}:{self.offset}:{int(self.is_prev)}"


@dataclass
class Page:
    """One page of issues and the cursors around it."""

    items: list[Issue]
    prev: Cursor
    prev_results: bool
    next: Cursor
    next_results: bool


def paginate(
    desc: Sequence[Issue], key: Callable[[Issue], int], cursor: Cursor | None, limit: int
) -> Page:
    """Return the page of ``desc`` (sorted by ``key``, highest first) that ``cursor`` asks for."""

    def position(value: int, offset: int) -> int:
        return sum(1 for i in desc if key(i) > value) + offset

    def cursor_at(index: int, is_prev: bool, fallback: int) -> Cursor:
        if index < len(desc):
            value = key(desc[index])
        elif desc:
            value = key(desc[-1])
        else:
            value = fallback
        return Cursor(value, max(0, index - sum(1 for i in desc if key(i) > value)), is_prev)

    start = 0 if cursor is None else position(cursor.value, cursor.offset)
    if cursor is not None and cursor.is_prev:
        start = max(0, start - limit)
    start = min(start, len(desc))
    items = list(desc[start : start + limit])
    end = start + len(items)
    fallback = cursor.value if cursor else 0
    return Page(
        items=items,
        prev=cursor_at(start, True, fallback),
        prev_results=start > 0,
        next=cursor_at(end, False, fallback),
        next_results=end < len(desc),
    )


def link_header(url: str, params: list[tuple[str, str]], page: Page) -> str:
    """Return Sentry's ``Link`` header: a previous and a next link, each with results/cursor."""
    rest = urlencode([(k, v) for k, v in params if k != "cursor"])

    def one(cursor: Cursor, rel: str, results: bool) -> str:
        flag = "true" if results else "false"
        return f'<{url}?{rest}&cursor={cursor}>; rel="{rel}"; results="{flag}"; cursor="{cursor}"'

    return ", ".join(
        (one(page.prev, "previous", page.prev_results), one(page.next, "next", page.next_results))
    )
