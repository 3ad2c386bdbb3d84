"""Reading a run's subject from GitHub: its text snapshot, and whether a maintainer approved it.

The snapshot is taken once, when the run starts (after the claim), so an edit made while the
agent works cannot change what it was asked to do. Approval is confirmed from the issue's
event history: the trigger label must still be on the subject and its most recent
application must come from someone the automation trusts — not merely from the event that
happened to arrive (a schedule sweep, a redelivery).
"""

from __future__ import annotations

from collections.abc import Iterable

from github.Repository import Repository

from factory.config.harness import TrustPolicy
from factory.config.templating import SubjectContext, SubjectSnapshot
from factory.events import TRUST_ORDER, Trust, parse_subject_key
from factory.forge.trust import TrustResolver, label_applier

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
