"""FakeSentry's REST endpoints: issue list, issue detail/update, events and comments.

Each route takes the ``Org`` (lock held), the request and the path's captures and returns
(status, body, extra headers); errors are ``SentryApiError``. Both the organization paths
(``organizations/{org}/issues/{id}/…``) and the legacy ``issues/{id}/…`` paths answer, as on
sentry.io; an issue may be named by id or short id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from factory.testing.sentry_events import rest_event
from factory.testing.sentry_json import detail_json, list_json, update_json
from factory.testing.sentry_query import (
    MAX_LIMIT,
    SORTS,
    Cursor,
    Search,
    in_window,
    link_header,
    paginate,
    parse_period,
    parse_time,
)
from factory.testing.sentry_state import JSON, NOT_FOUND, Comment, Issue, Org, SentryApiError, iso

Answer = tuple[int, Any, dict[str, str]]
BOT_USER = {"id": "1", "name": "factoryd", "username": "factoryd", "email": "factoryd@example.com"}


@dataclass
class Request:
    """One API request: method, absolute URL without query, query pairs and the raw body."""

    method: str
    url: str
    params: list[tuple[str, str]]
    body: bytes

    def get(self, name: str, default: str | None = None) -> str | None:
        """Return the last value of query parameter ``name``."""
        values = self.all(name)
        return values[-1] if values else default

    def all(self, name: str) -> list[str]:
        """Return every value of query parameter ``name``."""
        return [v for k, v in self.params if k == name]

    def json(self) -> JSON:
        """Return the JSON object body; raises SentryApiError 400 as DRF's parser does."""
        if not self.body:
            return {}
        try:
            body = json.loads(self.body)
        except ValueError as exc:
            raise SentryApiError(400, f"JSON parse error - {exc}") from None
        if not isinstance(body, dict):
            raise SentryApiError(400, body={"non_field_errors": ["Invalid data."]})
        return body


Route = Callable[[Org, Request, dict[str, str]], Answer]


def _org(org: Org, captures: dict[str, str]) -> None:
    if "org" in captures and captures["org"] != org.slug:
        raise SentryApiError(404, NOT_FOUND)


def _int_param(req: Request, name: str, default: int) -> int:
    raw = req.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\d+", raw):
        raise SentryApiError(400, f"Invalid {name} parameter.")
    return int(raw)


def _window(req: Request, now: datetime) -> tuple[datetime | None, datetime | None]:
    period = req.get("statsPeriod")
    if period:
        return now - parse_period(period), None
    start, end = req.get("start"), req.get("end")
    return (parse_time(start) if start else None, parse_time(end) if end else None)


def list_issues(org: Org, req: Request, captures: dict[str, str]) -> Answer:
    """``GET organizations/{org}/issues/``: filter, sort and page (see sentry_query)."""
    _org(org, captures)
    now = datetime.now(UTC)
    search = Search.parse(req.get("query", "is:unresolved") or "")
    start, end = _window(req, now)
    projects = {p for p in req.all("project") if p != "-1"}
    envs = set(req.all("environment"))
    sort = req.get("sort", "date") or "date"
    if sort not in SORTS:
        raise SentryApiError(400, f"Invalid sort: {sort}")
    key = SORTS[sort]
    limit = min(max(_int_param(req, "limit", MAX_LIMIT), 1), MAX_LIMIT)
    cursor = Cursor.parse(req.get("cursor"))
    hits = [
        issue
        for issue in org.issues.values()
        if search.matches(issue, now)
        and in_window(issue, start, end)
        and (not projects or org.project_id(issue.project) in projects)
        and (not envs or envs & {e.environment for e in issue.events})
    ]
    hits.sort(key=lambda i: (key(i), int(i.id)), reverse=True)
    page = paginate(hits, key, cursor, limit)
    period = req.get("groupStatsPeriod", "24h") or "24h"
    body = [list_json(org, issue, period) for issue in page.items]
    return 200, body, {"Link": link_header(req.url, req.params, page)}


def issue_detail(org: Org, req: Request, captures: dict[str, str]) -> Answer:
    """``GET``/``PUT …/issues/{id}/``: the issue, or change its status and flags."""
    _org(org, captures)
    issue = org.issue(captures["issue"])
    if req.method == "GET":
        return 200, detail_json(org, issue), {}
    body = req.json()
    if "status" in body:
        org.set_status(issue, str(body["status"]), body.get("statusDetails"))
    if "assignedTo" in body:
        who = body["assignedTo"]
        issue.assigned_to = (
            None if not who else {"type": "user", "id": str(who), "name": str(who), "email": None}
        )
    for field, attr in (
        ("hasSeen", "has_seen"),
        ("isBookmarked", "is_bookmarked"),
        ("isSubscribed", "is_subscribed"),
        ("isPublic", "is_public"),
    ):
        if field in body:
            setattr(issue, attr, bool(body[field]))
    return 200, update_json(org, issue), {}


def issue_event(org: Org, req: Request, captures: dict[str, str]) -> Answer:
    """``GET …/issues/{id}/events/{latest|oldest|recommended|event_id}/``."""
    _org(org, captures)
    issue = org.issue(captures["issue"])
    which = captures["event"]
    if which == "recommended" and not org.recommended_events:
        raise SentryApiError(404, NOT_FOUND)
    if which in ("latest", "recommended"):
        index = len(issue.events) - 1
    elif which == "oldest":
        index = 0
    else:
        ids = [e.id for e in issue.events]
        if which not in ids:
            raise SentryApiError(404, NOT_FOUND)
        index = ids.index(which)
    return 200, rest_event(org, issue, index), {}


def comment_json(issue: Issue, comment: Comment) -> JSON:
    """Return a note as Sentry's Activity serializer does."""
    return {
        "id": comment.id,
        "user": dict(BOT_USER),
        "sentry_app": None,
        "type": "note",
        "issue": None,
        "data": {"text": comment.text},
        "dateCreated": iso(comment.when),
    }


def issue_comments(org: Org, req: Request, captures: dict[str, str]) -> Answer:
    """``GET``/``POST …/issues/{id}/comments/`` (also ``notes/``): list or add a note."""
    _org(org, captures)
    issue = org.issue(captures["issue"])
    if req.method == "GET":
        notes = [comment_json(issue, c) for c in reversed(issue.comments)]
        return 200, notes, {}
    body = req.json()
    text = body.get("text")
    if text is None:
        raise SentryApiError(400, body={"text": ["This field is required."]})
    if not isinstance(text, str) or not text.strip():
        raise SentryApiError(400, body={"text": ["This field may not be blank."]})
    comment = org.add_comment(issue, text)
    return 201, comment_json(issue, comment), {}


ISSUE = r"(?:organizations/(?P<org>[^/]+)/)?issues/(?P<issue>[^/]+)/"
ROUTES: list[tuple[str, re.Pattern[str], tuple[str, ...], Route]] = [
    ("issues", re.compile(r"organizations/(?P<org>[^/]+)/issues/"), ("GET",), list_issues),
    ("issue", re.compile(ISSUE), ("GET", "PUT"), issue_detail),
    (
        "event",
        re.compile(ISSUE + r"events/(?P<event>latest|oldest|recommended|[0-9a-fA-F-]{32,36})/"),
        ("GET",),
        issue_event,
    ),
    ("notes", re.compile(ISSUE + r"(?:notes|comments)/"), ("GET", "POST"), issue_comments),
]


def route(path: str) -> tuple[str, tuple[str, ...], Route, dict[str, str]] | None:
    """Return (name, methods, handler, captures) for a path below ``/api/0/``, or None."""
    for name, pattern, methods, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            captures = {k: v for k, v in match.groupdict().items() if v is not None}
            return name, methods, handler, captures
    return None
