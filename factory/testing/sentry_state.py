"""FakeSentry's organization: issues, their events and comments, and status changes.

All state lives in one ``Org`` guarded by ``lock``; the HTTP threads and the test's own calls
take it for every read and change. Status follows Sentry's issue states: a new issue is
``unresolved``/``new``; a resolved issue that gets an event is a regression (``unresolved``,
substatus ``regressed``) unless it was resolved *in the next release* and the event still comes
from the release it was resolved in; a manual unresolve is ``ongoing``; ``ignored`` is archived
(``archived_forever``, ``archived_until_escalating`` or ``archived_until_condition_met``) and
stays so when events come.
"""

from __future__ import annotations

import bisect
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

JSON = dict[str, Any]

NOT_FOUND = "The requested resource does not exist"


class SentryApiError(Exception):
    """An API error: answered with ``status`` and the body (``{"detail": …}`` by default)."""

    def __init__(self, status: int, detail: str | None = None, body: Any = None) -> None:
        super().__init__(detail or str(body))
        self.status = status
        self.body: Any = body if body is not None else {"detail": detail}


def iso(when: datetime) -> str:
    """Return Sentry's timestamp form: ``2019-08-19T20:58:37.391000Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Event:
    """One occurrence of an issue."""

    id: str
    when: datetime
    user: str
    environment: str
    release: str | None


@dataclass
class Comment:
    """A note on an issue (Sentry's Activity of type ``note``)."""

    id: str
    text: str
    when: datetime


@dataclass
class Issue:
    """One Sentry issue (a group of events) and what its events carry."""

    id: str
    short_id: str
    project: str
    title: str
    culprit: str
    level: str
    message: str
    platform: str
    exceptions: list[JSON]
    breadcrumbs: list[JSON]
    request: JSON | None
    events: list[Event] = field(default_factory=list)
    status: str = "unresolved"
    substatus: str | None = "new"
    status_details: JSON = field(default_factory=dict)
    resolved_release: str | None = None
    comments: list[Comment] = field(default_factory=list)
    activity: list[JSON] = field(default_factory=list)
    assigned_to: JSON | None = None
    has_seen: bool = False
    is_bookmarked: bool = False
    is_subscribed: bool = False
    is_public: bool = False
    user: JSON | None = None
    """What the SDK sent of the user (``email``, ``ip_address``, ``username``, ``name``,
    ``data``); the event's user id is kept."""
    extra: JSON = field(default_factory=dict)
    """The events' ``extra`` data (the REST event's ``context``)."""

    @property
    def count(self) -> int:
        """Return how many events the issue has."""
        return len(self.events)

    @property
    def user_count(self) -> int:
        """Return how many distinct users its events came from."""
        return len({e.user for e in self.events})

    @property
    def first_seen(self) -> datetime:
        """Return the first event's time."""
        return self.events[0].when

    @property
    def last_seen(self) -> datetime:
        """Return the latest event's time."""
        return self.events[-1].when

    @property
    def environment(self) -> str:
        """Return the environment of the latest event."""
        return self.events[-1].environment

    def releases(self) -> list[str]:
        """Return the releases its events came from, first seen first."""
        seen: list[str] = []
        for event in self.events:
            if event.release is not None and event.release not in seen:
                seen.append(event.release)
        return seen


class Clock:
    """Event times: strictly increasing (1 ms apart at least) unless a time is given."""

    def __init__(self) -> None:
        self._last = datetime(1970, 1, 1, tzinfo=UTC)

    def next(self, at: datetime | None) -> datetime:
        """Return ``at`` (made aware in UTC), or now but later than every time given before."""
        if at is not None:
            return at if at.tzinfo else at.replace(tzinfo=UTC)
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        self._last = max(now, self._last + timedelta(milliseconds=1))
        return self._last


STATUSES = ("resolved", "resolvedInNextRelease", "unresolved", "ignored")


class Org:
    """The fake organization's data; every method expects ``lock`` held by the caller."""

    def __init__(self, slug: str, project: str) -> None:
        self.lock = threading.RLock()
        self.slug = slug
        self.projects: dict[str, str] = {project: "1"}
        self.issues: dict[str, Issue] = {}
        self.clock = Clock()
        self._next_issue = 1170820242
        self._next_comment = 1
        self._users = 0
        self.short_seq: dict[str, int] = {}
        self.base_url = "http://127.0.0.1:0"
        self.recommended_events = True
        """False: ``events/recommended/`` answers 404, as on servers older than that route."""

    # -- lookups ---------------------------------------------------------------

    def issue(self, issue_id: str) -> Issue:
        """Return an issue by id or short id; raises SentryApiError 404."""
        if issue_id in self.issues:
            return self.issues[issue_id]
        for issue in self.issues.values():
            if issue.short_id.lower() == issue_id.lower():
                return issue
        raise SentryApiError(404, NOT_FOUND)

    def project_id(self, slug: str) -> str:
        """Return the numeric id of a project slug (adding the project if new)."""
        if slug not in self.projects:
            self.projects[slug] = str(len(self.projects) + 1)
        return self.projects[slug]

    def new_user(self) -> str:
        """Return a user id not used before."""
        self._users += 1
        return f"user-{self._users}"

    # -- changes ---------------------------------------------------------------

    def add_issue(self, issue: Issue) -> Issue:
        """Register a new issue (its id and short id are assigned here)."""
        self._next_issue += 1
        issue.id = str(self._next_issue)
        seq = self.short_seq.get(issue.project, 0) + 1
        self.short_seq[issue.project] = seq
        issue.short_id = f"{issue.project.upper()}-{_base32(seq)}"
        self.project_id(issue.project)
        self.issues[issue.id] = issue
        return issue

    def add_event(self, issue: Issue, event: Event) -> None:
        """Record one event (events stay in time order); a resolved issue regresses (see the
        module docstring)."""
        bisect.insort(issue.events, event, key=lambda e: e.when)
        if issue.status != "resolved":
            return
        if issue.status_details.get("inNextRelease") and event.release == issue.resolved_release:
            return
        issue.status, issue.substatus, issue.status_details = "unresolved", "regressed", {}
        issue.resolved_release = None
        self.log(issue, "set_regression", {"version": event.release or ""}, event.when)

    def set_status(self, issue: Issue, status: str, details: JSON | None) -> None:
        """Change an issue's status as the PUT endpoint does; raises SentryApiError 400."""
        if status not in STATUSES:
            raise SentryApiError(400, body={"status": [f'"{status}" is not a valid choice.']})
        details = dict(details or {})
        now = self.clock.next(None)
        if status == "resolvedInNextRelease" or details.get("inNextRelease"):
            releases = issue.releases()
            issue.status, issue.substatus = "resolved", None
            issue.status_details = {"inNextRelease": True}
            issue.resolved_release = releases[-1] if releases else None
            self.log(issue, "set_resolved_in_release", {"version": ""}, now)
        elif status == "resolved":
            issue.status, issue.substatus = "resolved", None
            issue.status_details = {k: v for k, v in details.items() if k == "inRelease"}
            issue.resolved_release = None
            self.log(issue, "set_resolved", {}, now)
        elif status == "unresolved":
            issue.status, issue.substatus, issue.status_details = "unresolved", "ongoing", {}
            issue.resolved_release = None
            self.log(issue, "set_unresolved", {}, now)
        else:
            issue.status, issue.status_details = "ignored", details
            issue.resolved_release = None
            if details.get("ignoreUntilEscalating"):
                issue.substatus = "archived_until_escalating"
            elif details:
                issue.substatus = "archived_until_condition_met"
            else:
                issue.substatus = "archived_forever"
            self.log(issue, "set_ignored", dict(details), now)

    def add_comment(self, issue: Issue, text: str) -> Comment:
        """Add a note; raises SentryApiError 400 for the same text within the hour."""
        now = self.clock.next(None)
        for old in issue.comments:
            if old.text == text and now - old.when < timedelta(hours=1):
                raise SentryApiError(400, "You have already posted that comment.")
        comment = Comment(str(self._next_comment), text, now)
        self._next_comment += 1
        issue.comments.append(comment)
        issue.is_subscribed = True
        self.log(issue, "note", {"text": text}, now, activity_id=comment.id)
        return comment

    def log(
        self, issue: Issue, kind: str, data: JSON, when: datetime, activity_id: str | None = None
    ) -> None:
        """Append one activity entry to the issue (newest first, as Sentry lists them)."""
        entry = {
            "id": activity_id or uuid.uuid4().hex[:10],
            "type": kind,
            "data": data,
            "dateCreated": iso(when),
            "user": None,
        }
        issue.activity.insert(0, entry)


def _base32(n: int) -> str:
    """Return ``n`` in Sentry's short-id alphabet (base 32 without I, L, O, U)."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    out = ""
    while True:
        n, r = divmod(n, 32)
        out = alphabet[r] + out
        if n == 0:
            return out
