"""The entries of a subject's story: one per stored event, run, output, link or follow-up.

Texts are the stored words (a Slack message, a Sentry title, an output's title or body) cut
to TEXT_LIMIT: untrusted, the page escapes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from factory.store.lineage import FollowupRecord, SubjectLink
from factory.store.records import EventRecord, OutputRecord, RunRecord

TEXT_LIMIT = 600
"""Stored text (a Slack message, a title, an output's body) is cut to this in an entry."""
CREATES = {"create_issue": "issue", "open_pull_request": "pull_request"}
"""Output kinds whose applied result names a new subject (``result.number``)."""
MERGE_KIND = "pull_request.closed"


@dataclass(frozen=True)
class StoryEntry:
    """One thing that happened, as the timeline shows it.

    ``kind`` is one of event, run, output, link, followup; ``label`` says what happened
    ("Slack message", "builder", "open_pull_request"); ``text`` is stored text (untrusted:
    escape it); ``url`` an external address, ``run_id`` the run it belongs to.
    """

    at: datetime
    kind: str
    label: str
    subject_key: str | None = None
    text: str = ""
    actor: str | None = None
    status: str | None = None
    url: str | None = None
    run_id: str | None = None
    cost_usd: float | None = None
    milestone: str | None = None
    """opened, first_run, pull_request, merged or verified when this entry set that clock."""


def cut(value: Any) -> str:
    return value[:TEXT_LIMIT] if isinstance(value, str) else ""


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def created_key(output: OutputRecord) -> str | None:
    """Return the subject an applied output created (issue or pull request), or None."""
    prefix = CREATES.get(output.kind)
    number = as_dict(output.result).get("number")
    if prefix is None or output.status != "applied" or not isinstance(number, int):
        return None
    return f"{prefix}:{number}"


def is_merge(record: EventRecord) -> bool:
    """Return True for a ``pull_request.closed`` event whose pull request was merged."""
    pull = as_dict(record.event.payload.get("pull_request"))
    return record.event.kind == MERGE_KIND and pull.get("merged") is True


def event_entry(record: EventRecord) -> StoryEntry:
    """Return the timeline entry of one stored event (its text is the event's own words)."""
    event, payload = record.event, record.event.payload
    subject = event.subject
    title = subject.title if subject and subject.title else ""
    url = subject.url if subject else None
    label, text = event.kind, cut(title)
    if event.source == "slack":
        label, text = "Slack message", cut(payload.get("text"))
    elif event.source == "sentry":
        action = event.kind.removeprefix("sentry.issue.").removeprefix("sentry.")
        names = {"unresolved": "regressed", "created": "new issue"}
        label = f"Sentry {names.get(action, action)}"
        text, url = cut(payload.get("title") or title), payload.get("permalink") or url
    elif is_merge(record):
        label = "merged"
    elif event.kind.endswith((".labeled", ".unlabeled")):
        name = as_dict(payload.get("label")).get("name")
        label = f"{event.kind} {name}" if isinstance(name, str) else event.kind
    return StoryEntry(
        at=event.received_at,
        kind="event",
        label=label,
        subject_key=event.subject_key,
        text=text,
        actor=event.actor,
        status=event.trust,
        url=url if isinstance(url, str) else None,
    )


def run_entry(run: RunRecord) -> StoryEntry:
    """Return the timeline entry of one run (at its start, or when it was queued)."""
    return StoryEntry(
        at=run.started_at or run.queued_at,
        kind="run",
        label=run.automation,
        subject_key=run.subject_key,
        text=cut(run.stop_reason or run.error or ""),
        status=run.status,
        run_id=run.id,
        cost_usd=run.cost_usd,
    )


def output_entry(output: OutputRecord, subject_key: str | None) -> StoryEntry:
    """Return the timeline entry of one output (at its last update)."""
    payload = as_dict(as_dict(output.request).get("payload"))
    text = payload.get("title") or payload.get("text") or payload.get("body")
    labels = payload.get("labels")
    if not text and isinstance(labels, list):
        text = ", ".join(str(label) for label in labels)
    return StoryEntry(
        at=output.updated_at,
        kind="output",
        label=output.kind,
        subject_key=subject_key,
        text=cut(text),
        status=output.status,
        url=output.url,
        run_id=output.run_id,
    )


def link_entry(link: SubjectLink) -> StoryEntry:
    """Return the timeline entry of one lineage link."""
    return StoryEntry(
        at=link.created_at,
        kind="link",
        label=f"{link.from_key} → {link.to_key}",
        subject_key=link.to_key,
        run_id=link.run_id,
    )


def followup_entry(row: FollowupRecord) -> StoryEntry:
    """Return the timeline entry of one follow-up the daemon wrote (or meant to)."""
    return StoryEntry(
        at=row.updated_at,
        kind="followup",
        label=f"follow-up ({row.kind})",
        subject_key=row.target_key,
        text=cut(as_dict(row.request).get("text") or row.error or ""),
        status=row.status,
        url=row.url,
    )
