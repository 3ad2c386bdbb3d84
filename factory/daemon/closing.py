"""Pull requests that close issues: the closing keywords, and the lineage link they make.

A pull request whose body says "Closes #12" grows out of issue 12. When that issue has an
origin the daemon follows up on (a Slack thread or a Sentry issue), the pull request is
linked ``issue:12 → pull_request:M``, so the thread follow-up and the Sentry loop both find
the origin of the pull request when it merges. One helper makes the link for both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from factory.store import EventRecord
from factory.store.lineage import SENTRY_PREFIX, SLACK_PREFIX, LineageLog

CLOSING = re.compile(r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+#(\d+)\b", re.I)
"""GitHub's closing keywords followed by an issue number in this repository."""
LINKING_KINDS = ("pull_request.opened", "pull_request.edited", "pull_request.closed")
"""The pull request events whose body is read for closing keywords."""


def closed_issues(body: str | None) -> list[int]:
    """Return the issue numbers ``body`` closes ("Closes #12", "fixes #3"), in order, once."""
    return list(dict.fromkeys(int(n) for n in CLOSING.findall(body or "")))


def pull_of(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the ``pull_request`` object of a webhook-shaped payload ({} when absent)."""
    pr = payload.get("pull_request")
    return pr if isinstance(pr, Mapping) else {}


def link_closing_pull(store: LineageLog, record: EventRecord) -> list[int]:
    """Link ``issue:N → pull_request:M`` for each issue N the pull request of ``record``
    closes that came from a Slack thread or a Sentry issue; return those issue numbers
    (linked now or before), in the body's order. Other events link nothing and give []."""
    event = record.event
    pr = pull_of(event.payload)
    if event.source != "github" or event.kind not in LINKING_KINDS:
        return []
    if not isinstance(pr.get("number"), int):
        return []
    number = int(pr["number"])
    linked = []
    for issue in closed_issues(pr.get("body")):
        key = f"issue:{issue}"
        if (
            store.origin_of(key, SLACK_PREFIX) is None
            and store.origin_of(key, SENTRY_PREFIX) is None
        ):
            continue
        store.add_link(key, f"pull_request:{number}", event_id=record.id)
        linked.append(issue)
    return linked
