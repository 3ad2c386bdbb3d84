"""``push_to_pull_request``: the agent's change pushed onto a factory pull request's branch.

Who may be pushed to (checked when the request is prepared and again before the push):
the pull request is open, was opened by the factory's own login, its head lives in this
repository (never a fork) and its branch starts with ``factory/``. A person's branch is
never written, whatever the agent asks.

What is pushed: the patch exported from the run's workspace (a ``workspace:
pull-request`` checkout of the PR head), applied in the daemon's own clone under the
patch policy, as one commit on the head the run started from (``factory.forge.pr_push_git``).
If the head moved since, the request is refused as stale.

Attempts: every push request that reaches the performer is one attempt on the head it was
prepared against, and so is every finished run of the automation on the PR that never asked
to push (it spent a session on that head and gave up, or did not see what to fix: the next
CI failure would start the same session again). Such a run's head is the one its event
names; a sweep tick names none, so it counts for the pull request's limit only.
After ``max_attempts_per_head`` on one head, or ``max_attempts_per_pr``
on the PR, the request is refused, the policy's needs-human label is put on the PR and one
summary comment (found again by its marker, so it is posted once) says why.

Idempotent: the commit carries the output's key as a trailer and the follow-up comment its
marker; a retry after a crash finds both instead of pushing or commenting again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from github.PullRequest import PullRequest
from pydantic import BaseModel, ConfigDict, Field

from factory.errors import OutputRefused
from factory.events import Event
from factory.forge.sanitize import BODY_CAP, cap_text, sanitize_body

if TYPE_CHECKING:
    from factory.forge.output_requests import RunContext
    from factory.store import RunRecord

KIND = "push_to_pull_request"
ATTEMPT_LIMIT = f"{KIND}: attempt limit"
"""Start of the refusal that ends the attempts (such rows are not attempts themselves)."""
CI_NOTE = (
    "Note: a push made with the factory's token may not start CI (GitHub does not run"
    " workflows for pushes by a GITHUB_TOKEN); if no checks appear on this commit, a"
    " maintainer can re-run them."
)
_MESSAGE_CAP = 2_000
PUSHLESS_STATUSES = ("succeeded", "failed")
"""A finished run in these that made no push request still counts as an attempt (a run
cancelled, interrupted or skipped spent no session to the end)."""


class PushToPullRequestRequest(BaseModel):
    """Push the change made in the workspace onto this run's pull request (its own branch)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    message: str = Field(min_length=1, max_length=_MESSAGE_CAP)
    """The commit message: a short first line, then what was fixed and why."""
    summary: str = ""
    """What the push fixes, posted as a comment on the pull request."""


def ownership_refusal(pull: PullRequest, repo_name: str, bot_login: str | None) -> str | None:
    """Return why the factory may not push to ``pull``'s head branch, or None if it may."""
    head = pull.head
    author = pull.user.login if pull.user else None
    head_repo = head.repo.full_name if head.repo else None
    if pull.state != "open":
        return f"{KIND}: #{pull.number} is {pull.state}"
    if bot_login is None or (author or "").lower() != bot_login.lower():
        return f"{KIND}: #{pull.number} was opened by {author!r}, not the factory: never pushed to"
    if (head_repo or "").lower() != repo_name.lower():
        return f"{KIND}: #{pull.number} comes from the fork {head_repo!r}: never pushed to"
    if not head.ref.startswith("factory/"):
        return f"{KIND}: #{pull.number}'s branch {head.ref!r} is not a factory/ branch"
    return None


def owned_pull(ctx: RunContext, number: int) -> PullRequest:
    pull = ctx.repo.get_pull(number)
    refusal = ownership_refusal(pull, ctx.repo.full_name, ctx.bot_login)
    if refusal:
        raise OutputRefused(refusal)
    return pull


def prepare_push(
    request: PushToPullRequestRequest, ctx: RunContext, notes: list[str]
) -> tuple[int, dict[str, Any]]:
    """Check the request against the run's pull request; return (target, payload).

    Raises OutputRefused when the run has no subject or the PR is not the factory's own.
    """
    if ctx.subject is None:
        raise OutputRefused(f"{KIND}: run {ctx.run_id} has no pull request to push to")
    pull = owned_pull(ctx, ctx.subject)
    summary = sanitize_body(request.summary, ctx.secrets)
    if len(summary) > BODY_CAP:
        notes.append(f"the summary was truncated to {BODY_CAP} characters")
    payload = {
        "message": sanitize_body(request.message, ctx.secrets, limit=_MESSAGE_CAP),
        "summary": cap_text(summary, BODY_CAP),
        "branch": pull.head.ref,
        "head_sha": pull.head.sha,
    }
    # A repeat of a request this run already made keeps the head it was made against (the
    # head has moved if it was pushed): same payload, same key, answered from its row.
    for row in ctx.store.outputs_in_scope(ctx.scope):
        earlier = row.request.get("payload") if isinstance(row.request, dict) else None
        same = isinstance(earlier, dict) and {**earlier, "head_sha": pull.head.sha} == payload
        if row.kind == KIND and same and isinstance(earlier, dict):
            return ctx.subject, dict(earlier)
    return ctx.subject, payload


def event_head(event: Event | None) -> str | None:
    """Return the pull request head ``event`` is about (a check's, a review's or pull
    request's, a merge conflict's, the subject's sha), or None (a sweep tick names none)."""
    if event is None:
        return None
    payload = event.payload
    meta = payload.get("_factory")
    conflict = meta.get("merge_conflict") if isinstance(meta, dict) else None
    found = [conflict.get("head_sha") if isinstance(conflict, dict) else None]
    for name in ("check_suite", "check_run"):
        check = payload.get(name)
        found.append(check.get("head_sha") if isinstance(check, dict) else None)
    pull = payload.get("pull_request")
    head = pull.get("head") if isinstance(pull, dict) else None
    found.append(head.get("sha") if isinstance(head, dict) else None)
    found.append(event.subject.sha if event.subject else None)
    return next((sha for sha in found if isinstance(sha, str) and sha), None)


def _pushless_head(ctx: RunContext, other: RunRecord, automation: str) -> tuple[bool, str | None]:
    """Return (whether ``other`` is a finished run of ``automation`` that never asked to push,
    the head its event names)."""
    if other.id == ctx.run_id or other.automation != automation:
        return False, None
    if other.status not in PUSHLESS_STATUSES:
        return False, None
    if any(row.kind == KIND for row in ctx.store.outputs_for_run(other.id)):
        return False, None
    event = ctx.store.get_event(other.event_id).event if other.event_id is not None else None
    return True, event_head(event)


def attempts(ctx: RunContext, number: int, head_sha: str, key: str) -> tuple[int, int]:
    """Return (attempts on ``head_sha``, attempts in all) made on PR ``number`` before the
    output ``key``: push requests of the PR's runs that reached the performer, and the
    finished runs of the same automation that never asked to push (a session spent on a
    head is an attempt on it, pushed or not; one whose event names no head, a sweep's,
    counts for the pull request only)."""
    run = ctx.store.get_run(ctx.run_id)
    runs = ctx.store.list_runs(subject=run.subject_key, limit=500) if run.subject_key else [run]
    on_head = total = 0
    for other in runs:
        pushless, head = _pushless_head(ctx, other, run.automation)
        if pushless:
            total += 1
            on_head += head == head_sha
            continue
        for row in ctx.store.outputs_for_run(other.id):
            payload = (row.request or {}).get("payload") if isinstance(row.request, dict) else None
            if row.kind != KIND or row.idempotency_key == key or not isinstance(payload, dict):
                continue
            reason = row.result.get("reason", "") if isinstance(row.result, dict) else ""
            if row.status in ("staged",) or str(reason).startswith(ATTEMPT_LIMIT):
                continue
            if row.status == "refused" and "head_sha" not in payload:
                continue  # refused by the gate before it was an attempt (quota, schema)
            total += 1
            on_head += payload.get("head_sha") == head_sha
    return on_head, total
