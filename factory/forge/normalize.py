"""GitHub webhook payload → Event, and the dedup keys the webhook and the poller share.

Dedup keys. Most deliveries are keyed by their delivery id (``github:delivery:<id>``): a
redelivery of the same delivery carries the same id, so it is stored once. The changes
the poller can also see (``POLLED_ACTIONS`` on issues and pull requests) get a key both
paths can compute from what they have, so whichever path sees a change first stores it
and the other finds it already there:

- ``opened``: ``github:<event>.opened:<number>`` — a number is opened once;
- ``labeled`` / ``unlabeled``: ``github:<event>.<action>:<number>:<label>:<at>``;
- ``closed`` / ``reopened``: ``github:<event>.<action>:<number>:<at>``;

where ``<at>`` is when the change happened, to the second, in UTC (``...T15:20:18Z``).
The poller takes it from the issue event's ``created_at``. A webhook payload does not
carry the issue event, so the webhook takes the issue's (or PR's) ``updated_at``: GitHub
stamps ``updated_at`` with the change that caused the delivery (the recorded
``issues.labeled`` / ``unlabeled`` fixtures show it moving with the label change) and
renders the payload as the change happens. ``closed_at`` would do for ``closed`` too, but
one rule for every action keeps the two paths simpler to compare.

Limits: (1) if GitHub's two clocks ever disagree by a second, or a second change lands
in the same request before the payload is rendered, both paths store the change once
each — a duplicate event, never a lost one; the dispatcher's subject claims and the
automations' own checks (label still present, PR already open) absorb it. (2) Removing
and re-adding the same label within one second collapses into one event. (3) The key
does not name the repository: one daemon serves one repository.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from factory.events import Event, Subject, Trust

POLLED_EVENTS = ("issues", "pull_request")
"""Webhook events whose changes the poller can see too."""
POLLED_ACTIONS = ("opened", "closed", "reopened", "labeled", "unlabeled")
"""Actions of those events that get a key shared with the poller."""


def github_time(value: str | datetime) -> str:
    """Return a GitHub timestamp (ISO 8601 string or datetime) as ``YYYY-MM-DDTHH:MM:SSZ``.

    Naive datetimes are taken to be UTC. Raises ValueError for an unparsable string.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def change_key(event_name: str, action: str, number: int, at: str, label: str | None) -> str:
    """Return the dedup key of an issue/PR change the poller can see (see module docs).

    ``at`` is any GitHub timestamp; it is ignored for ``opened``. Raises ValueError for an
    action outside POLLED_ACTIONS or a label change without a label.
    """
    if action not in POLLED_ACTIONS:
        raise ValueError(f"action {action!r} has no key shared with the poller")
    if action == "opened":
        return f"github:{event_name}.opened:{number}"
    if action in ("labeled", "unlabeled"):
        if not label:
            raise ValueError(f"a {event_name}.{action} key needs a label name")
        return f"github:{event_name}.{action}:{number}:{label}:{github_time(at)}"
    return f"github:{event_name}.{action}:{number}:{github_time(at)}"


def dedup_key(event_name: str, payload: Mapping[str, Any], delivery_id: str) -> str:
    """Return the dedup key of a webhook delivery: shared with the poller where it can be.

    Falls back to ``github:delivery:<id>`` whenever the payload lacks a field the shared
    key needs, so a malformed payload is still stored once per delivery.
    """
    action = payload.get("action")
    obj = payload.get("issue" if event_name == "issues" else "pull_request")
    if event_name in POLLED_EVENTS and action in POLLED_ACTIONS and isinstance(obj, Mapping):
        number = obj.get("number")
        at = obj.get("updated_at")
        label = _get(payload, "label", "name")
        try:
            if isinstance(number, int) and isinstance(at, str):
                return change_key(event_name, str(action), number, at, label)
        except ValueError:
            pass
    return f"github:delivery:{delivery_id}"


def event_kind(event_name: str, payload: Mapping[str, Any]) -> str:
    """Return ``"<event>.<action>"``, or just the event name when there is no action."""
    action = payload.get("action")
    return f"{event_name}.{action}" if isinstance(action, str) and action else event_name


def subject_of(event_name: str, payload: Mapping[str, Any]) -> Subject | None:
    """Return what the delivery is about: an issue, a pull request, a commit, or None."""
    if event_name in ("issues", "issue_comment"):
        issue = payload.get("issue")
        if not isinstance(issue, Mapping):
            return None
        kind = "pull_request" if "pull_request" in issue else "issue"
        return Subject(
            kind=kind,
            number=issue.get("number"),
            title=issue.get("title"),
            url=issue.get("html_url"),
        )
    if event_name.startswith("pull_request"):
        pr = payload.get("pull_request")
        if not isinstance(pr, Mapping):
            return None
        return Subject(
            kind="pull_request",
            number=pr.get("number"),
            title=pr.get("title"),
            url=pr.get("html_url"),
            sha=_get(pr, "head", "sha"),
        )
    if event_name in ("check_run", "check_suite"):
        check = payload.get(event_name)
        if not isinstance(check, Mapping):
            return None
        prs = check.get("pull_requests") or []
        if prs and isinstance(prs[0], Mapping):
            return Subject(
                kind="pull_request", number=prs[0].get("number"), sha=_get(prs[0], "head", "sha")
            )
        sha = check.get("head_sha")
        return Subject(kind="commit", sha=sha) if isinstance(sha, str) and sha else None
    if event_name == "push":
        after = payload.get("after")
        if payload.get("deleted") or not isinstance(after, str) or not after.strip("0"):
            return None  # a deleted branch points at no commit
        message = _get(payload, "head_commit", "message")
        title = message.splitlines()[0] if message else None
        return Subject(
            kind="commit", sha=after, title=title, url=_get(payload, "head_commit", "url")
        )
    return None


def normalize(
    event_name: str,
    payload: Mapping[str, Any],
    delivery_id: str,
    *,
    trust: Trust = "anyone",
    bot_logins: Collection[str] = (),
) -> Event:
    """Return the Event for one webhook delivery.

    ``trust`` is the sender's trust (see ``factory.forge.trust.sender_trust``);
    ``bot_logins`` are the factory's own logins, whose events get ``by_factory``. The
    payload is kept whole, with the delivery id under ``payload["_factory"]``.
    Raises pydantic.ValidationError when the payload's subject fields have wrong types.
    """
    actor = _get(payload, "sender", "login")
    bots = {b.lower() for b in bot_logins}
    return Event(
        source="github",
        kind=event_kind(event_name, payload),
        dedup_key=dedup_key(event_name, payload, delivery_id),
        subject=subject_of(event_name, payload),
        actor=actor,
        trust=trust,
        by_factory=actor is not None and actor.lower() in bots,
        payload={**payload, "_factory": {"via": "webhook", "delivery_id": delivery_id}},
    )


def foreign_repository(payload: Mapping[str, Any], repository: str) -> str | None:
    """Return why ``payload`` is not about ``repository`` (``owner/name``), or None if it is.

    Names compare case-insensitively, as GitHub's do. A payload with no ``repository`` is
    ours only when it has no issue or pull request either (organisation-level events such
    as ``membership``); an issue or PR without a repository cannot be placed, so it is
    refused too.
    """
    repo = payload.get("repository")
    name = repo.get("full_name") if isinstance(repo, Mapping) else None
    if isinstance(name, str):
        if name.lower() == repository.lower():
            return None
        return f"delivery is for repository {name!r}, this factory serves {repository!r}"
    if any(key in payload for key in ("issue", "pull_request")):
        return f"delivery names no repository, this factory serves {repository!r}"
    return None


def foreign_key(dedup_key: str, payload: Mapping[str, Any]) -> str:
    """Return the dedup key for an ignored foreign delivery: it names where it came from,
    so it can never shadow the same-numbered change of this factory's repository."""
    repo = payload.get("repository")
    name = repo.get("full_name") if isinstance(repo, Mapping) else None
    return f"github:foreign:{name or '?'}:{dedup_key}"


def _get(obj: Mapping[str, Any], *keys: str) -> Any:
    """Return ``obj[k1][k2]...`` or None when any step is missing or not an object."""
    value: Any = obj
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
