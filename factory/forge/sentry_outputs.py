"""The ``sentry_update`` output: comment on the run's Sentry issue, or resolve it.

It goes through the one output gate (``factory.forge.outputs``) like every output: the
request is checked here against the automation's ``sentry_update.allowed`` actions and
turned into a prepared payload (the Sentry issue, and the final text or status), recorded
as intent, then performed with ``SentryClient``. The Sentry issue is always the run's own
(``ctx.sentry.issue_id``: its subject, or the one lineage links to its issue or pull
request); a request cannot name another.

Actions: ``comment`` posts a note (the text sanitized like a GitHub body — hidden code
points, forged markers and secrets removed, @mentions broken — capped to
``SENTRY_TEXT_CAP``, then a daemon-made ``GitHub: URL`` line linking the run's issue);
``resolve`` PUTs ``status: resolved``; ``resolve_in_next_release`` PUTs
``status: resolvedInNextRelease`` (Sentry keeps it resolved for events of the current
release and regresses it on a later one).

Idempotency (a crash between Sentry's answer and the local commit): a note carries the
intent's key in the hidden factoryd marker, and ``find_update`` pages through the issue's
notes for it; a resolve is found by the issue's state (``status: resolved``, however it got
there: resolving a resolved issue again would change nothing worth a second request).

These functions see ``RunContext``/``PreparedOutput`` only as types: ``output_requests`` and
``output_performers`` import this module to register the kind, so it imports neither.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from factory.config.outputs_config import SentryAction
from factory.errors import OutputFailed, OutputRefused, SentryError
from factory.forge.markers import append_marker, has_marker
from factory.forge.sanitize import cap_text, neutralize_mentions, scrub_text
from factory.sentry.side import SentrySide
from factory.store.lineage import SENTRY_PREFIX

if TYPE_CHECKING:
    from datetime import datetime

    from factory.forge.output_requests import PreparedOutput, RunContext

SENTRY_TEXT_CAP = 8_000
"""Characters of a comment kept (before the GitHub link and the marker)."""


STATUS_OF: dict[str, str] = {
    "resolve": "resolved",
    "resolve_in_next_release": "resolvedInNextRelease",
}
"""The status each resolving action PUTs."""

Written = tuple[str | None, dict[str, Any]]
"""What a Sentry performer made: the issue's permalink and the ids worth keeping."""


class SentryUpdateRequest(BaseModel):
    """Comment on, or resolve, the Sentry issue this run is about."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    action: SentryAction
    """comment, resolve (now) or resolve_in_next_release (resolved once the next release
    ships; an event from a later release regresses it)."""
    text: str = Field(default="", max_length=100_000)
    """The comment (markdown) for action comment; a link to the GitHub issue is added.
    Must be empty for the resolving actions (send a comment as its own request)."""


# -- preparing ---------------------------------------------------------------------------


def _issue_id(ctx: RunContext) -> str:
    side = ctx.sentry
    if side is None or side.issue_id is None:
        raise OutputRefused(f"sentry_update: run {ctx.run_id} has no Sentry issue to update")
    return side.issue_id


def github_link(ctx: RunContext, created: Collection[int]) -> str | None:
    """Return the URL of the run's GitHub issue: its subject, else the newest issue it filed,
    else the newest issue lineage links to its Sentry issue (None: there is none)."""
    numbers = list(created)
    if ctx.subject is not None:
        number: int | None = ctx.subject
    elif numbers:
        number = numbers[-1]
    else:
        side = ctx.sentry
        linked = (
            ctx.store.issues_from(SENTRY_PREFIX + side.issue_id) if side and side.issue_id else []
        )
        number = linked[-1] if linked else None
    return None if number is None else f"{ctx.repo.html_url}/issues/{number}"


def sentry_text(text: str, secrets: Collection[str], notes: list[str]) -> str:
    """Return agent-written ``text`` safe to post as a Sentry note (module docstring)."""
    clean = neutralize_mentions(scrub_text(text, secrets)).strip()
    if len(clean) > SENTRY_TEXT_CAP:
        notes.append(f"the text was truncated to {SENTRY_TEXT_CAP} characters")
    return cap_text(clean, SENTRY_TEXT_CAP)


def prepare_sentry(
    request: BaseModel,
    ctx: RunContext,
    config: Any,
    notes: list[str],
    created: Collection[int] = (),
) -> dict[str, Any]:
    """Return the payload of a checked sentry_update: the issue id, the action and its text
    (comment) or status (resolving).

    Raises OutputRefused when the action is not allowed, the run has no Sentry issue, a
    comment is empty or a resolve carries text.
    """
    if not isinstance(request, SentryUpdateRequest):
        raise OutputRefused("unknown Sentry output kind")
    if request.action not in config.allowed:
        raise OutputRefused(
            f"sentry_update: action {request.action!r} is not allowed"
            f" (allowed: {', '.join(map(repr, config.allowed))})"
        )
    issue_id = _issue_id(ctx)
    if request.action in STATUS_OF:
        if request.text.strip():
            raise OutputRefused(
                f"sentry_update: {request.action} takes no text (send the comment as its own"
                " sentry_update with action comment)"
            )
        return {"issue_id": issue_id, "action": request.action, "status": STATUS_OF[request.action]}
    text = sentry_text(request.text, ctx.secrets, notes)
    if not text:
        raise OutputRefused("sentry_update: a comment needs text")
    link = github_link(ctx, created)
    if link is not None:
        text = f"{text}\n\nGitHub: {link}"
    return {"issue_id": issue_id, "action": "comment", "text": text}


# -- performing ----------------------------------------------------------------------------


def _side(ctx: RunContext) -> SentrySide:
    if ctx.sentry is None:
        raise OutputFailed(f"sentry_update: run {ctx.run_id} has no Sentry client (no token set)")
    return ctx.sentry


def _failed(exc: SentryError) -> OutputFailed:
    return OutputFailed(f"sentry_update: {exc}")


def perform_update(ctx: RunContext, prepared: PreparedOutput, key: str) -> Written:
    """Post the note (with ``key`` in its marker) or PUT the status; return the issue's
    permalink and what changed. Raises OutputFailed when Sentry refuses."""
    client = _side(ctx).client
    p = prepared.payload
    issue_id = str(p["issue_id"])
    try:
        if p["action"] == "comment":
            permalink = client.issue(issue_id).get("permalink")
            note = client.comment(issue_id, append_marker(str(p["text"]), ctx.run_id, key))
            return permalink, {"issue_id": issue_id, "comment_id": note.get("id")}
        answer = client.update_issue(issue_id, status=p["status"])
    except SentryError as exc:
        raise _failed(exc) from None
    return answer.get("permalink"), _state(issue_id, answer)


def _state(issue_id: str, issue: dict[str, Any]) -> dict[str, Any]:
    return {
        "issue_id": issue_id,
        "status": issue.get("status"),
        "statusDetails": issue.get("statusDetails") or {},
    }


def find_update(
    ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
) -> Written | None:
    """Return the note carrying ``key``, or the issue when a resolve is already its state;
    None when neither is on Sentry. Raises OutputFailed when Sentry refuses."""
    side = _side(ctx)
    p = prepared.payload
    issue_id = str(p["issue_id"])
    try:
        if p["action"] == "comment":
            note = side.client.find_note(issue_id, lambda text: has_marker(text, key))
            if note is None:
                return None
            permalink = side.client.issue(issue_id).get("permalink")
            return permalink, {"issue_id": issue_id, "comment_id": note.get("id")}
        issue = side.client.issue(issue_id)
    except SentryError as exc:
        raise _failed(exc) from None
    if issue.get("status") != "resolved":
        return None
    return issue.get("permalink"), _state(issue_id, issue)
