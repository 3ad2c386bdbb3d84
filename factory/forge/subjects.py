"""Reading a run's subject from GitHub: its text snapshot, and whether a maintainer approved it.

The snapshot is taken once, when the run starts (after the claim), so an edit made while the
agent works cannot change what it was asked to do. Approval is confirmed from the issue's
event history: the trigger label must still be on the subject and its most recent
application must come from someone the automation trusts — not merely from the event that
happened to arrive (a schedule sweep, a redelivery).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from github.Repository import Repository

from factory.config.harness import TrustPolicy
from factory.config.templating import SubjectContext, SubjectSnapshot
from factory.events import TRUST_ORDER, Event, Trust, parse_subject_key
from factory.forge.markers import append_marker, has_marker
from factory.forge.trust import TrustResolver, label_applier
from factory.store.event_log import EventLog
from factory.store.records import EventRecord

MAX_COMMENTS = 10
"""Latest comments included in the snapshot."""


def snapshot(repo: Repository, subject_key: str, policy: TrustPolicy) -> SubjectSnapshot:
    """Return the subject's title, body, labels and latest comments, each with its trust.

    Raises ValueError for a subject key that is not an issue or pull request; whatever
    PyGithub raises when the subject cannot be read.
    """
    subject = parse_subject_key(subject_key)
    if subject.kind not in ("issue", "pull_request") or subject.number is None:
        raise ValueError(f"subject {subject_key!r} has no text to snapshot")
    issue = repo.get_issue(subject.number)
    branch = head_sha = None
    if subject.kind == "pull_request":
        pull = repo.get_pull(subject.number)
        branch, head_sha = pull.head.ref, pull.head.sha
    context = SubjectContext(
        kind=subject.kind,
        number=subject.number,
        title=issue.title or "",
        body=issue.body or "",
        url=issue.html_url or "",
        labels=[label.name for label in issue.labels],
        author=issue.user.login if issue.user else "",
        trust=policy.trust_of(issue.author_association),
        branch=branch,
        head_sha=head_sha,
    )
    comments = list(issue.get_comments())[-MAX_COMMENTS:]
    return SubjectSnapshot(
        context=context,
        comments=tuple(
            (
                c.user.login if c.user else "",
                policy.trust_of(c.author_association),
                c.body or "",
            )
            for c in comments
        ),
    )


def approval_problem(
    repo: Repository,
    snap: SubjectSnapshot,
    labels: Iterable[str],
    required: Trust,
    resolve: TrustResolver,
) -> str | None:
    """Return why the subject is not approved for a run that needs ``required`` trust, or None.

    Each of ``labels`` must be on the subject and last applied by an actor trusted at least
    ``required`` (by repository permission). Raises what PyGithub raises.
    """
    number = snap.context.number
    if number is None:
        return None
    for label in labels:
        if label not in snap.context.labels:
            return f"approval: label {label!r} is no longer on #{number}"
        applier = label_applier(repo, number, label)
        if applier is None:
            return f"approval: nobody known applied {label!r} to #{number}"
        trust = resolve(applier)
        if TRUST_ORDER[trust] < TRUST_ORDER[required]:
            return (
                f"approval: {label!r} on #{number} was applied by {applier} "
                f"(trusted as '{trust}'), this automation needs '{required}'"
            )
    return None


APPROVAL_KINDS = ("issues.labeled", "pull_request.labeled")
"""Stored events that record an approval label being applied, with the text at that time."""
EDIT_KINDS = ("issues.edited", "pull_request.edited")
"""Stored events that record an edit of a subject's title or body, with the editor."""


def _text_of(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """Return (title, body) of the issue or pull request in a webhook-shaped payload."""
    obj = payload.get("issue") or payload.get("pull_request")
    if not isinstance(obj, Mapping) or "title" not in obj or "body" not in obj:
        return None
    return str(obj.get("title") or ""), str(obj.get("body") or "")


def edited_after_approval(
    snap: SubjectSnapshot,
    approval: Event | None,
    edits: Sequence[Event],
    required: Trust,
) -> str | None:
    """Return why the subject's text is not the text its approver saw, or None when it is.

    ``approval`` is the stored event of the approving label's application (its payload holds
    the title and body at that moment); ``edits`` are the subject's stored edit events after
    it. The snapshot may differ from the approved text only through edits the factory saw,
    each made by someone trusted at least ``required`` (or by the factory itself); an edit by
    anyone else, or a change no stored edit explains, needs a new approval. Without a
    recorded approval text (the approval predates what the store holds) there is nothing to
    compare and None is returned.
    """
    approved = _text_of(approval.payload) if approval is not None else None
    if approved is None:
        return None
    now = (snap.context.title, snap.context.body)
    number = snap.context.number
    untrusted = [
        e for e in edits if not e.by_factory and TRUST_ORDER[e.trust] < TRUST_ORDER[required]
    ]
    if untrusted:
        who = untrusted[-1]
        return (
            f"approval: #{number} was edited after its approval by {who.actor or 'someone'} "
            f"(trusted as '{who.trust}', this automation needs '{required}')"
        )
    known = [text for text in (_text_of(e.payload) for e in edits) if text is not None]
    if now != (known[-1] if known else approved):
        return f"approval: #{number} changed after its approval in an edit the factory did not see"
    return None


def ask_for_reapproval(repo: Repository, number: int, label: str, reason: str, key: str) -> None:
    """Comment once (found again by the marker ``key``) that ``label`` must be applied again,
    and take the label off so a maintainer's re-application approves the new text.

    Raises what PyGithub raises.
    """
    issue = repo.get_issue(number)
    if not any(has_marker(c.body, key) for c in issue.get_comments()):
        text = (
            f"The factory did not start: {reason}. A maintainer who has read the current "
            f"title and description can approve this text by applying `{label}` again."
        )
        issue.create_comment(append_marker(text, "daemon", key))
    if label in {lb.name for lb in issue.labels}:
        issue.remove_from_labels(label)


def approval_history(
    store: EventLog, subject_key: str, labels: Collection[str]
) -> tuple[EventRecord | None, list[Event]]:
    """Return the latest stored application of one of ``labels`` to the subject and the
    subject's stored edits after it (oldest first)."""
    applied = [
        r
        for r in store.subject_events(subject_key, APPROVAL_KINDS)
        if (r.event.payload.get("label") or {}).get("name") in labels
    ]
    if not applied:
        return None, []
    last = applied[-1]
    edits = [r.event for r in store.subject_events(subject_key, EDIT_KINDS) if r.id > last.id]
    return last, edits


def approval_text_problem(
    store: EventLog,
    repo: Repository,
    subject_key: str,
    snap: SubjectSnapshot,
    labels: Collection[str],
    required: Trust,
) -> str | None:
    """Return why the subject's text is not what its approver saw, or None; on a problem,
    ask on the subject (once) for a new approval. Raises what PyGithub raises."""
    approval, edits = approval_history(store, subject_key, labels)
    problem = edited_after_approval(snap, approval.event if approval else None, edits, required)
    if problem and approval is not None and snap.context.number is not None:
        label = str(approval.event.payload["label"]["name"])
        ask_for_reapproval(repo, snap.context.number, label, problem, f"reapproval:{approval.id}")
    return problem
