"""FakeSentry's integration-platform webhooks: bodies, signatures and delivery headers.

Bodies follow tests/data/sentry/webhook.*.json: ``issue`` (actions created, resolved,
assigned, archived, unresolved; ``data.issue`` plus the ``url``/``web_url``/``project_url``
the docs list), ``event_alert`` (action triggered; ``data.event`` the raw latest event,
``triggered_rule``, ``issue_alert``), ``error`` (action created; ``data.error``) and
``comment`` (created/updated/deleted). A delivery is a POST with ``Content-Type``,
``Request-ID`` (uuid), ``Sentry-Hook-Resource``, ``Sentry-Hook-Timestamp`` (unix seconds) and
``Sentry-Hook-Signature`` (hex HMAC-SHA256 of the raw body keyed with the client secret).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

from factory.testing.sentry_events import raw_event
from factory.testing.sentry_json import webhook_issue_json
from factory.testing.sentry_state import JSON, Issue, Org, iso

SENTRY_ACTOR = {"id": "sentry", "name": "Sentry", "type": "application"}
USER_ACTOR = {"id": 1, "name": "Alice Maintainer", "type": "user"}
ACTIONS = {
    "issue": ("created", "resolved", "assigned", "archived", "unresolved"),
    "event_alert": ("triggered",),
    "error": ("created",),
    "comment": ("created", "updated", "deleted"),
}


def signature(secret: str, body: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``body`` keyed with ``secret``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_headers(
    resource: str, raw: bytes, secret: str, request_id: str | None, timestamp: int | None
) -> dict[str, str]:
    """Return the headers Sentry sends with one webhook delivery of ``raw``."""
    return {
        "Content-Type": "application/json",
        "Request-ID": request_id or str(uuid.uuid4()),
        "Sentry-Hook-Resource": resource,
        "Sentry-Hook-Timestamp": str(int(timestamp if timestamp is not None else time.time())),
        "Sentry-Hook-Signature": signature(secret, raw),
    }


def _issue_data(org: Org, issue: Issue) -> JSON:
    api = f"https://sentry.io/api/0/organizations/{org.slug}/issues/{issue.id}/"
    return {
        **webhook_issue_json(org, issue),
        "url": api,
        "web_url": f"https://{org.slug}.sentry.io/issues/{issue.id}/",
        "project_url": f"https://{org.slug}.sentry.io/issues/?project={org.project_id(issue.project)}",
    }


def webhook_body(
    org: Org,
    installation: str,
    resource: str,
    action: str,
    issue: Issue,
    rule: str = "factoryd alert",
) -> JSON:
    """Return the body of one webhook; raises ValueError for an unknown resource/action."""
    if action not in ACTIONS.get(resource, ()):
        raise ValueError(f"Sentry sends no {resource!r} webhook with action {action!r}")
    actor = SENTRY_ACTOR if action in ("created", "triggered") else USER_ACTOR
    data: JSON
    if resource == "issue":
        data = {"issue": _issue_data(org, issue)}
    elif resource == "event_alert":
        data = {
            "event": raw_event(org, issue, len(issue.events) - 1),
            "triggered_rule": rule,
            "issue_alert": {"title": rule, "settings": []},
        }
    elif resource == "error":
        data = {"error": raw_event(org, issue, len(issue.events) - 1)}
    else:
        note = issue.comments[-1] if issue.comments else None
        data = {
            "comment": note.text if note else "",
            "project_slug": issue.project,
            "comment_id": int(note.id) if note else 0,
            "issue_id": int(issue.id),
            "timestamp": iso(note.when if note else issue.last_seen),
        }
        actor = USER_ACTOR
    return {
        "action": action,
        "actor": dict(actor),
        "data": data,
        "installation": {"uuid": installation},
    }
