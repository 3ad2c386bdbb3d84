"""FakeSentry: Sentry's REST API subset and integration webhooks as a real server on 127.0.0.1.

Point httpx at it::

    with FakeSentry() as sentry:
        issue_id = sentry.add_issue(title="ZeroDivisionError: division by zero")
        sentry.add_events(issue_id, n=50)
        client = httpx.Client(base_url=sentry.api_url,
                              headers={"Authorization": f"Bearer {sentry.token}"})
        client.get(f"organizations/{sentry.org}/issues/", params={"query": "is:unresolved"})
        body = sentry.webhook_body("issue", "created", issue_id)
        sentry.deliver("http://127.0.0.1:8000/sentry/webhook", "issue", body)

Endpoints (all below ``api_url``; see sentry_routes and sentry_query for the parameters):
``GET organizations/{org}/issues/``; ``GET``/``PUT organizations/{org}/issues/{id}/`` and
``issues/{id}/``; ``GET …/issues/{id}/events/latest|oldest|recommended|{event_id}/``;
``GET``/``POST …/issues/{id}/comments/`` (also ``notes/``). Errors are ``{"detail": …}``
(404 ``The requested resource does not exist``); every answer carries the
``X-Sentry-Rate-Limit-*`` headers. ``calls`` lists every request as
``(method, path, query)`` with ``query`` as ``{name: [values]}``.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime, timedelta
from http.server import ThreadingHTTPServer
from typing import Any

import httpx

from factory.testing.sentry_http import Api, Call, make_server
from factory.testing.sentry_state import JSON, Event, Issue, Org, iso
from factory.testing.sentry_webhooks import delivery_headers, signature, webhook_body
from factory.testing.served import LoopbackServer

DEFAULT_FRAMES: list[JSON] = [
    {
        "filename": "app/views.py",
        "abs_path": "/srv/web/app/views.py",
        "module": "app.views",
        "function": "calculate",
        "lineno": 21,
        "in_app": True,
        "pre_context": ["def calculate(request):", "    a, b = parse(request)"],
        "context_line": "    return add(a, b)",
        "post_context": [""],
    },
    {
        "filename": "calc.py",
        "abs_path": "/srv/web/calc.py",
        "module": "calc",
        "function": "add",
        "lineno": 3,
        "in_app": True,
        "pre_context": ["def add(a, b):", "    total = a + b"],
        "context_line": "    return total / b",
        "post_context": ["", ""],
    },
]
DEFAULT_BREADCRUMBS: list[JSON] = [
    {
        "category": "httplib",
        "type": "http",
        "level": "info",
        "message": None,
        "data": {"method": "GET", "url": "https://rates.example.com/today", "status_code": 200},
        "timestamp": "2026-01-01T00:00:00.000000Z",
    },
    {
        "category": "query",
        "type": "default",
        "level": "info",
        "message": "SELECT total FROM ledger WHERE id = %s",
        "data": None,
        "timestamp": "2026-01-01T00:00:00.100000Z",
    },
]
DEFAULT_REQUEST: JSON = {
    "url": "https://web.example.com/calc",
    "method": "GET",
    "headers": [["User-Agent", "curl/8.5.0"]],
    "query": [["a", "1"], ["b", "0"]],
    "data": None,
}


def _culprit(frames: list[JSON]) -> str:
    inner = [f for f in frames if f.get("in_app")] or frames
    if not inner:
        return ""
    return f"{inner[-1].get('module') or inner[-1].get('filename')} in {inner[-1].get('function')}"


class FakeSentry(LoopbackServer):
    """One Sentry organization (``acme``) with one project (``web``) and an internal integration."""

    thread_name = "fake-sentry"

    def __init__(self, org: str = "acme", project: str = "web") -> None:
        """Make the organization; tokens and the client secret are fresh per instance."""
        super().__init__()
        self.org = org
        self.project = project
        self.token = f"sntrys_fake_{uuid.uuid4().hex}"
        self.client_secret = uuid.uuid4().hex + uuid.uuid4().hex
        self.installation = str(uuid.uuid4())
        self.state = Org(org, project)
        self.api = Api(self.state, self.token)

    # -- lifecycle ---------------------------------------------------------------

    def _make_server(self) -> ThreadingHTTPServer:
        return make_server(self.api)

    @property
    def api_url(self) -> str:
        """Return the REST base URL (``http://127.0.0.1:PORT/api/0/``); start() first."""
        return f"http://127.0.0.1:{self.port}/api/0/"

    @property
    def calls(self) -> list[Call]:
        """Return a copy of the requests seen, as ``(method, path, query)``."""
        with self.state.lock:
            return copy.deepcopy(self.api.calls)

    # -- setup -------------------------------------------------------------------

    def add_issue(
        self,
        title: str = "ZeroDivisionError: division by zero",
        level: str = "error",
        culprit: str | None = None,
        frames: list[JSON] | None = None,
        message: str = "",
        environment: str = "production",
        release: str | None = "1.2.0",
        *,
        project: str | None = None,
        exceptions: list[JSON] | None = None,
        breadcrumbs: list[JSON] | None = None,
        request: JSON | None = DEFAULT_REQUEST,
        platform: str = "python",
        at: datetime | None = None,
        user: JSON | None = None,
        extra: JSON | None = None,
    ) -> str:
        """Create an issue with its first event; return its id.

        ``frames`` (SDK form, oldest call first) belong to the raised exception, whose
        type/value come from ``title`` ("Type: value"). ``exceptions`` gives a whole chain
        instead (``[{"type", "value", "frames", "mechanism"}]``, cause first); ``[]`` makes a
        message issue without an exception. ``culprit`` defaults to the innermost in-app frame.
        ``request`` may carry ``cookies`` and ``env`` besides url/method/headers/query/data;
        ``user`` (email, ip_address, username, name) and ``extra`` go on every event.
        """
        if exceptions is None:
            kind, _, value = title.partition(": ")
            stack = copy.deepcopy(DEFAULT_FRAMES if frames is None else frames)
            exceptions = [
                {
                    "type": kind,
                    "value": value,
                    "frames": stack,
                    "mechanism": {"type": "generic", "handled": True},
                }
            ]
        exceptions = copy.deepcopy(exceptions)
        last_frames = exceptions[-1].get("frames") or [] if exceptions else []
        with self.state.lock:
            issue = Issue(
                id="",
                short_id="",
                project=project or self.project,
                title=title,
                culprit=culprit if culprit is not None else _culprit(last_frames),
                level=level,
                message=message,
                platform=platform,
                exceptions=exceptions,
                breadcrumbs=copy.deepcopy(
                    DEFAULT_BREADCRUMBS if breadcrumbs is None else breadcrumbs
                ),
                request=copy.deepcopy(request),
                user=copy.deepcopy(user),
                extra=copy.deepcopy(extra or {}),
            )
            self.state.add_issue(issue)
            self._event(issue, self.state.new_user(), environment, release, at)
            return issue.id

    def _event(
        self, issue: Issue, user: str, environment: str, release: str | None, at: datetime | None
    ) -> str:
        event = Event(uuid.uuid4().hex, self.state.clock.next(at), user, environment, release)
        self.state.add_event(issue, event)
        return event.id

    def add_events(
        self,
        issue_id: str,
        n: int = 1,
        *,
        users: int = 1,
        environment: str | None = None,
        release: str | None = None,
        at: datetime | None = None,
    ) -> list[str]:
        """Record ``n`` more events of the issue from ``users`` new users (0: the last user);
        environment/release default to the latest event's. Count, userCount and lastSeen
        move; a resolved issue regresses. Return the event ids."""
        with self.state.lock:
            issue = self.state.issue(issue_id)
            last = issue.events[-1]
            people = [self.state.new_user() for _ in range(users)] or [last.user]
            ids = []
            for k in range(n):
                when = at + timedelta(milliseconds=k) if at is not None else None
                env = environment or last.environment
                rel = release if release is not None else last.release
                ids.append(self._event(issue, people[k % len(people)], env, rel, when))
            return ids

    # -- state changes as Sentry makes them -----------------------------------------

    def resolve(self, issue_id: str, in_next_release: bool = False) -> None:
        """Resolve the issue (as a user would in the UI), or resolve it in the next release."""
        with self.state.lock:
            status = "resolvedInNextRelease" if in_next_release else "resolved"
            self.state.set_status(self.state.issue(issue_id), status, None)

    def ignore(self, issue_id: str, **status_details: Any) -> None:
        """Archive (ignore) the issue with Sentry's statusDetails (ignoreCount, …)."""
        with self.state.lock:
            self.state.set_status(self.state.issue(issue_id), "ignored", status_details)

    def regress(self, issue_id: str, release: str | None = None) -> str:
        """Send a new event to a resolved issue so that it regresses; return the event id.

        Raises ValueError when the issue is not resolved."""
        with self.state.lock:
            issue = self.state.issue(issue_id)
            if issue.status != "resolved":
                raise ValueError(f"issue {issue_id} is {issue.status}, not resolved")
            if release is None and issue.status_details.get("inNextRelease"):
                release = f"{issue.resolved_release or '0.0.0'}+next"
            return self.add_events(issue_id, 1, users=0, release=release)[0]

    def rate_limit_next(self, path_prefix: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next ``times`` requests under ``path_prefix`` (below /api/0/, e.g.
        ``organizations/acme/issues/``) with 429 and ``Retry-After``."""
        prefix = path_prefix.removeprefix("/").removeprefix("api/0/")
        with self.state.lock:
            self.api.limits.queued.extend([(prefix, retry_after)] * times)

    def set_rate_limit(self, limit: int, window: int = 1) -> None:
        """Change the per-endpoint limit (requests per ``window`` seconds; default 40/1 s)."""
        with self.state.lock:
            self.api.limits.limit, self.api.limits.window = limit, window

    # -- what happened -------------------------------------------------------------

    def issue_state(self, issue_id: str) -> JSON:
        """Return status, substatus, statusDetails, comments (texts), count, userCount,
        firstSeen/lastSeen and assignedTo of the issue."""
        with self.state.lock:
            issue = self.state.issue(issue_id)
            return {
                "id": issue.id,
                "shortId": issue.short_id,
                "status": issue.status,
                "substatus": issue.substatus,
                "statusDetails": copy.deepcopy(issue.status_details),
                "comments": [c.text for c in issue.comments],
                "count": issue.count,
                "userCount": issue.user_count,
                "firstSeen": iso(issue.first_seen),
                "lastSeen": iso(issue.last_seen),
                "assignedTo": copy.deepcopy(issue.assigned_to),
            }

    # -- webhooks ------------------------------------------------------------------

    def webhook_body(self, resource: str, action: str, issue_id: str) -> JSON:
        """Return a webhook body for the issue as it is now (shaped like the fixtures)."""
        with self.state.lock:
            issue = self.state.issue(issue_id)
            return webhook_body(self.state, self.installation, resource, action, issue)

    def sign(self, body: bytes, secret: str | None = None) -> dict[str, str]:
        """Return the ``Sentry-Hook-Signature`` header for ``body`` (the client secret)."""
        return {"Sentry-Hook-Signature": signature(secret or self.client_secret, body)}

    def deliver(
        self,
        url: str,
        resource: str,
        body: JSON,
        *,
        request_id: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        """POST ``body`` to ``url`` as Sentry delivers a webhook (signed with ``secret`` or
        the client secret); return the response."""
        raw = json.dumps(body).encode()
        headers = delivery_headers(
            resource, raw, secret or self.client_secret, request_id, timestamp
        )
        return httpx.post(url, content=raw, headers=headers, timeout=10)
