"""Sentry happenings as Events: one shape, one dedup scheme for webhooks and polling.

Every Event from Sentry has ``source="sentry"``, trust ``data`` (Sentry's text is written by
whatever crashed, never by a person the policy trusts), ``actor="sentry"``, the Sentry issue
as its subject (``sentry:ID``) and the flat payload of ``issue_payload``.

Dedup keys — the webhook and the poller compute the same key for the same happening, so
whichever sees it first stores it and the other finds the key taken:

- a new issue: ``sentry:issue:{id}:created`` — the ``issue.created`` webhook, and the
  poller the first time it lists the issue (a redelivery, a later poll: the same key);
- a regression (the issue unresolved again): ``sentry:issue:{id}:unresolved:{T}`` with T
  the time of the event that regressed it, in one form (``canonical_time``) — the
  ``issue.unresolved`` webhook's ``lastSeen`` (Sentry sends it on that event), and the
  poller's newest ``set_regression`` activity date of a regressed issue. A person
  unresolving an issue by hand (no new event) gets the webhook's ``lastSeen`` at that time,
  which no poll reproduces: such an unresolve may be stored twice if polled too, and each
  new regression is a new key;
- a changed issue (the poller only): ``sentry:issue:{id}:seen:{lastSeen}:{count}``;
- anything else a webhook says (issue resolved, ignored, assigned; ``event_alert``;
  ``error``): ``sentry:{Request-ID}:{resource}:{resource id}:{action}``, so a redelivery
  with the same ``Request-ID`` is one event.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from factory.events import Event, Subject, as_utc

ISSUE_ACTIONS = frozenset({"created", "resolved", "ignored", "archived", "assigned", "unresolved"})
"""The ``issue`` webhook actions turned into Events (``archived`` is Sentry's newer name for
``ignored``; its Event kind is ``sentry.issue.ignored``)."""
SENTRY_ACTOR = "sentry"
"""The actor of every Sentry event (Sentry's own text is data, whoever caused it)."""

_PROJECT_IN_URL = re.compile(r"/projects/[^/]+/([^/]+)/events/")


def created_key(issue_id: str) -> str:
    """The dedup key of a Sentry issue's first appearance (webhook and poll alike)."""
    return f"sentry:issue:{issue_id}:created"


def canonical_time(value: str | None) -> str:
    """Return a Sentry time in one form (``2019-08-19T20:58:37.391000Z``) whatever its
    precision or zone notation, so keys built from two sources' times compare; an
    unparsable value is returned as is ("unknown" for None)."""
    if not value:
        return "unknown"
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return as_utc(when).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def unresolved_key(issue_id: str, regressed_at: str | None) -> str:
    """The dedup key of a regression, by the time of the event that regressed the issue:
    the webhook's ``lastSeen`` (sent on that event), the poller's ``set_regression``
    activity date (webhook and poll alike)."""
    return f"sentry:issue:{issue_id}:unresolved:{canonical_time(regressed_at)}"


def seen_key(issue_id: str, last_seen: str | None, count: int | None) -> str:
    """The dedup key of a polled change of the issue's ``lastSeen`` or event count."""
    return f"sentry:issue:{issue_id}:seen:{last_seen or 'unknown'}:{count}"


def delivery_key(request_id: str, resource: str, resource_id: str, action: str) -> str:
    """The dedup key of any other webhook delivery: a redelivery repeats ``Request-ID``."""
    return f"sentry:{request_id}:{resource}:{resource_id}:{action}"


def count_of(value: Any) -> int | None:
    """Sentry sends counts as strings ("150") or ints; None when absent or not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _str(value: Any) -> str | None:
    return str(value) if value is not None and value != "" else None


def issue_payload(
    issue: dict[str, Any], *, action: str, resource: str, environment: str | None = None
) -> dict[str, Any]:
    """Return the flat payload of an Event about ``issue`` (Sentry's issue JSON)."""
    project = issue.get("project")
    slug = project.get("slug") if isinstance(project, dict) else None
    return {
        "issue_id": str(issue.get("id", "")),
        "short_id": _str(issue.get("shortId")),
        "title": _str(issue.get("title")),
        "culprit": _str(issue.get("culprit")),
        "level": _str(issue.get("level")),
        "project": _str(slug),
        "environment": environment,
        "count": count_of(issue.get("count")),
        "user_count": count_of(issue.get("userCount")),
        "first_seen": _str(issue.get("firstSeen")),
        "last_seen": _str(issue.get("lastSeen")),
        "permalink": _str(issue.get("permalink")),
        "status": _str(issue.get("status")),
        "substatus": _str(issue.get("substatus")),
        "action": action,
        "resource": resource,
    }


def issue_event(
    issue: dict[str, Any],
    action: str,
    *,
    request_id: str | None = None,
    via: str = "webhook",
    previous: dict[str, Any] | None = None,
    environment: str | None = None,
    regressed_at: str | None = None,
) -> Event:
    """Return the Event for ``action`` on ``issue``: ``created``, ``unresolved`` and ``seen``
    get the shared keys, other actions the delivery key (``request_id`` is then required).

    ``previous`` (the poller's last sight of the issue: ``count``, ``user_count``,
    ``last_seen``) goes into the payload as ``previous``, so a trigger can tell a threshold
    just crossed; ``regressed_at`` (the poller: the regression activity's date) keys an
    ``unresolved`` instead of ``lastSeen``. Raises ValueError for an issue without a
    numeric id, or another action without ``request_id``.
    """
    issue_id = str(issue.get("id", ""))
    if not issue_id.isdigit():
        raise ValueError(f"a Sentry issue needs a numeric id, got {issue_id!r}")
    payload = issue_payload(issue, action=action, resource="issue", environment=environment)
    payload["via"] = via
    if previous is not None:
        payload["previous"] = previous
    if action == "created":
        key = created_key(issue_id)
    elif action == "unresolved":
        key = unresolved_key(issue_id, regressed_at or payload["last_seen"])
    elif action == "seen":
        key = seen_key(issue_id, payload["last_seen"], payload["count"])
    elif request_id:
        key = delivery_key(request_id, "issue", issue_id, action)
    else:
        raise ValueError(f"Sentry issue {issue_id}: action {action!r} needs a Request-ID")
    kind = "ignored" if action == "archived" else action
    return _event(f"sentry.issue.{kind}", key, issue_id, payload)


def event_alert_event(data: dict[str, Any], request_id: str, action: str) -> Event | None:
    """Return the Event of an ``event_alert`` delivery (an issue alert rule fired), or None
    when the event names no numeric issue id. Counts are unknown here (None): the alert
    rule configured in Sentry is the threshold."""
    event = data.get("event")
    if not isinstance(event, dict):
        return None
    issue_id = str(event.get("issue_id", ""))
    if not issue_id.isdigit():
        return None
    payload = _event_payload(event, issue_id, action=action, resource="event_alert")
    rule = data.get("triggered_rule")
    payload["rule"] = str(rule) if rule is not None else None
    key = delivery_key(request_id, "event_alert", str(event.get("event_id", issue_id)), action)
    return _event("sentry.event_alert", key, issue_id, payload)


def error_event(data: dict[str, Any], request_id: str, action: str) -> Event | None:
    """Return the Event of an ``error`` delivery (one error event of an issue), or None when
    it names no numeric issue id."""
    error = data.get("error")
    if not isinstance(error, dict):
        return None
    issue_id = str(error.get("issue_id", ""))
    if not issue_id.isdigit():
        return None
    payload = _event_payload(error, issue_id, action=action, resource="error")
    key = delivery_key(request_id, "error", str(error.get("event_id", issue_id)), action)
    return _event("sentry.error", key, issue_id, payload)


def _event_payload(
    event: dict[str, Any], issue_id: str, *, action: str, resource: str
) -> dict[str, Any]:
    """Return the flat payload of an Event made from one Sentry event (not an issue)."""
    url = event.get("url")
    match = _PROJECT_IN_URL.search(url) if isinstance(url, str) else None
    return {
        "issue_id": issue_id,
        "short_id": None,
        "title": _str(event.get("title")),
        "culprit": _str(event.get("culprit")),
        "level": _str(event.get("level")),
        "project": match.group(1) if match else None,
        "environment": _str(event.get("environment")) or _tag(event, "environment"),
        "count": None,
        "user_count": None,
        "first_seen": None,
        "last_seen": _str(event.get("datetime")),
        "permalink": _str(event.get("web_url")),
        "status": None,
        "substatus": None,
        "action": action,
        "resource": resource,
        "via": "webhook",
        "event_id": _str(event.get("event_id")),
    }


def _tag(event: dict[str, Any], name: str) -> str | None:
    """Return the value of tag ``name`` (Sentry sends tags as [key, value] pairs)."""
    tags = event.get("tags")
    if not isinstance(tags, list):
        return None
    for tag in tags:
        if isinstance(tag, list | tuple) and len(tag) == 2 and tag[0] == name:
            return _str(tag[1])
        if isinstance(tag, dict) and tag.get("key") == name:
            return _str(tag.get("value"))
    return None


def _event(kind: str, key: str, issue_id: str, payload: dict[str, Any]) -> Event:
    return Event(
        source="sentry",
        kind=kind,
        dedup_key=key,
        subject=Subject(
            kind="sentry",
            sentry_id=issue_id,
            title=payload.get("title"),
            url=payload.get("permalink"),
        ),
        actor=SENTRY_ACTOR,
        trust="data",
        by_factory=False,
        payload=payload,
    )


def webhook_event(resource: str, body: dict[str, Any], request_id: str) -> Event | None:
    """Return the Event a webhook delivery carries, or None for a resource or action that
    stores nothing (``installation``, ``metric_alert``, ``comment``, unknown ones)."""
    action = str(body.get("action", ""))
    data = body.get("data")
    if not isinstance(data, dict):
        return None
    if resource == "issue" and action in ISSUE_ACTIONS:
        issue = data.get("issue")
        if not isinstance(issue, dict) or not str(issue.get("id", "")).isdigit():
            return None
        return issue_event(issue, action, request_id=request_id)
    if resource == "event_alert" and action == "triggered":
        return event_alert_event(data, request_id, action)
    if resource == "error" and action == "created":
        return error_event(data, request_id, action)
    return None
