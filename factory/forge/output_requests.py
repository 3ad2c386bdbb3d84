"""What the agent may ask for, and the checks that turn a request into a prepared output.

Each output kind has a request model (what the agent sends; ``extra="forbid"``). ``prepare``
checks one request against the automation's ``outputs:`` config and the run's subject, and
returns a ``PreparedOutput``: the exact, sanitized thing the daemon will write. The prepared
output is what gets stored as the intent, and all that a performer needs, so a reconcile
after a crash performs exactly what was checked. Every refusal is an ``OutputRefused`` whose
message is the reason the model is told.

Choices: a missing title prefix is *added* (not refused); a body over the cap is truncated
with a note (not refused); labels an agent asks for on a new issue must be in the
``add_labels`` allowlist or the ``create_issue`` labels; an approval label (the policy's
``labels.ready``) is put on an issue only by a run a maintainer caused, whatever the
allowlists say: the factory never approves work on an untrusted actor's behalf.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from factory.config.outputs_config import CloseReason, Outputs, ReviewEvent
from factory.errors import OutputRefused
from factory.events import Trust
from factory.forge.config_proposals import ProposeConfigChangeRequest, prepare_config_change
from factory.forge.issue_dedupe import DEDUPE_PATTERN, prepare_dedupe
from factory.forge.pr_push import PushToPullRequestRequest, prepare_push
from factory.forge.revert_request import RevertPullRequestRequest, prepare_revert
from factory.forge.sanitize import BODY_CAP, cap_text, sanitize_body, sanitize_title
from factory.forge.sentry_outputs import SentryUpdateRequest, prepare_sentry
from factory.forge.slack_outputs import (
    SlackPostRequest,
    SlackReactRequest,
    SlackReplyRequest,
    prepare_slack,
)
from factory.forge.sub_issues import prepare_parent
from factory.sentry.side import SentrySide
from factory.slack.messages import SlackSide

if TYPE_CHECKING:
    from github.Repository import Repository

    from factory.store import RunStore


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class CreateIssueRequest(_Request):
    """Open a new issue in the repository."""

    title: str = Field(min_length=1, max_length=1000)
    """Title of the new issue."""
    body: str = ""
    """Markdown body of the new issue."""
    labels: list[str] = Field(default_factory=list)
    """Labels to put on it (only labels the automation allows)."""
    parent: int | None = Field(default=None, ge=1)
    """Link it as a sub-issue of this issue: the run's subject or an issue this run created
    (only where the automation allows sub-issues)."""
    dedupe: str | None = Field(default=None, pattern=DEDUPE_PATTERN)
    """A stable key for what it is about (e.g. "quality:storage"): refused while an open
    issue has this key or the same title."""


class CommentRequest(_Request):
    """Comment on the run's subject (or another issue the run may write to)."""

    body: str = Field(min_length=1)
    """Markdown body of the comment."""
    number: int | None = Field(default=None, ge=1)
    """Issue or pull request number; defaults to the run's subject."""


class AddLabelsRequest(_Request):
    """Add labels to the run's subject."""

    labels: list[str] = Field(min_length=1)
    """Label names to add."""


class RemoveLabelsRequest(_Request):
    """Remove labels from the run's subject."""

    labels: list[str] = Field(min_length=1)
    """Label names to remove."""


class CloseIssueRequest(_Request):
    """Close the run's subject issue."""

    reason: CloseReason = "completed"
    """Why: completed or not_planned."""
    comment: str | None = None
    """A comment posted before closing, saying why."""


class ReviewPullRequestRequest(_Request):
    """Review the run's subject pull request."""

    event: ReviewEvent
    """The verdict: APPROVE, REQUEST_CHANGES or COMMENT."""
    body: str = ""
    """The review's text (needed for REQUEST_CHANGES and COMMENT)."""


class OpenPullRequestRequest(_Request):
    """Open a pull request with the run's change (the daemon makes the branch and commit)."""

    title: str = Field(min_length=1, max_length=1000)
    """Title of the pull request."""
    body: str = ""
    """Markdown description of the pull request."""


class MergePullRequestRequest(_Request):
    """Merge the run's subject pull request (the merge policy still decides)."""

    reason: str = ""
    """Why it is ready to merge (recorded with the output)."""


REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "create_issue": CreateIssueRequest,
    "comment": CommentRequest,
    "add_labels": AddLabelsRequest,
    "remove_labels": RemoveLabelsRequest,
    "close_issue": CloseIssueRequest,
    "review_pull_request": ReviewPullRequestRequest,
    "open_pull_request": OpenPullRequestRequest,
    "merge_pull_request": MergePullRequestRequest,
    "slack_reply": SlackReplyRequest,
    "slack_react": SlackReactRequest,
    "slack_post": SlackPostRequest,
    "sentry_update": SentryUpdateRequest,
    "propose_config_change": ProposeConfigChangeRequest,
    "push_to_pull_request": PushToPullRequestRequest,
    "revert_pull_request": RevertPullRequestRequest,
}
"""The request model of each output kind (the keys are the fields of ``Outputs``)."""


@dataclass(frozen=True)
class RunContext:
    """What the output layer needs to know about one run."""

    run_id: str
    """The run asking."""
    automation: str
    """The automation's name (for logs)."""
    outputs: Outputs
    """The automation's ``outputs:`` config: what the run may ask for."""
    subject: int | None
    """Issue or pull request number the run is about (None: no subject)."""
    repo: Repository
    """The PyGithub repository outputs are written to."""
    store: RunStore
    """Where intents and results are recorded."""
    secrets: tuple[str, ...] = ()
    """Values to redact besides the process-wide redactor's (canaries, run tokens)."""
    bot_login: str | None = None
    """The factory's own login, to find its issues by creator during reconcile."""
    other_targets: frozenset[int] = frozenset()
    """Numbers besides the subject (and issues this run created) it may comment on."""
    trust: Trust = "anyone"
    """How far whoever caused the run (its event's actor) is trusted."""
    approval_labels: frozenset[str] = frozenset()
    """Labels whose application approves work (the policy's ``labels.ready``): put on an
    issue only when ``trust`` is maintainers."""
    key_scope: str | None = None
    """What idempotency keys are scoped to; default the run id. The daemon passes one value
    for every attempt of the same (event, automation), so a retry after a crash finds what
    the crashed attempt already wrote instead of writing it again."""
    slack: SlackSide | None = None
    """The Slack client and the run's thread (None: no Slack; Slack outputs are refused).
    Build it with ``factory.forge.slack_outputs.run_slack_side``."""
    sentry: SentrySide | None = None
    """The Sentry client and the run's Sentry issue (None: no Sentry; Sentry outputs are
    refused). Build it with ``factory.sentry.side.run_sentry_side``."""

    @property
    def scope(self) -> str:
        """The idempotency key scope: ``key_scope`` or the run id."""
        return self.key_scope or self.run_id


@dataclass(frozen=True)
class PreparedOutput:
    """A checked, sanitized output: exactly what will be written."""

    kind: str
    """The output kind."""
    target: int | None
    """Issue/PR number written to (None: the repository, e.g. a new issue)."""
    payload: dict[str, Any]
    """Kind-specific fields, final (sanitized, prefixed, with config labels)."""
    notes: tuple[str, ...] = field(default=(), compare=False)
    """What the checks changed (prefix added, body truncated), told to the model."""

    def to_stored(self) -> dict[str, Any]:
        """Return the JSON stored as the intent's request."""
        return {"target": self.target, "payload": self.payload}

    @classmethod
    def from_stored(cls, kind: str, stored: dict[str, Any]) -> PreparedOutput:
        """Return the prepared output an intent row was recorded with."""
        return cls(kind, stored["target"], dict(stored["payload"]))

    def key(self, scope: str) -> str:
        """Return the idempotency key: scope (run), kind, target and a hash of the content."""
        blob = json.dumps(self.payload, sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(blob.encode()).hexdigest()[:20]
        return f"{scope}:{self.kind}:{self.target if self.target is not None else 'repo'}:{digest}"


def _body(text: str, secrets: Sequence[str], notes: list[str], what: str = "body") -> str:
    clean = sanitize_body(text, secrets, limit=sys.maxsize)
    if len(clean) > BODY_CAP:
        notes.append(f"the {what} was truncated to {BODY_CAP} characters")
    return cap_text(clean, BODY_CAP)


def _title(title: str, prefix: str, secrets: Sequence[str], notes: list[str]) -> str:
    clean = sanitize_title(title, secrets)
    if prefix and not clean.startswith(prefix):
        notes.append(f"the title prefix {prefix!r} was added")
        clean = sanitize_title(f"{prefix.rstrip()} {clean}", secrets)
    return clean


def _check_labels(labels: Sequence[str], allowed: Collection[str], kind: str) -> list[str]:
    wanted = list(dict.fromkeys(labels))
    refused = [name for name in wanted if name not in allowed]
    if refused:
        raise OutputRefused(
            f"{kind}: label(s) {', '.join(map(repr, refused))} are not allowed"
            f" (allowed: {', '.join(map(repr, sorted(allowed))) or 'none'})"
        )
    return wanted


def _check_approval(labels: Sequence[str], ctx: RunContext, kind: str) -> None:
    approving = [name for name in labels if name in ctx.approval_labels]
    if approving and ctx.trust != "maintainers":
        raise OutputRefused(
            f"{kind}: label(s) {', '.join(map(repr, approving))} approve work, and this run was"
            f" caused by an actor trusted as {ctx.trust!r}: only a maintainer's request may"
            " approve (use the triage label and let a maintainer approve)"
        )


def _subject(ctx: RunContext, kind: str) -> int:
    if ctx.subject is None:
        raise OutputRefused(f"{kind}: run {ctx.run_id} has no subject to act on")
    return ctx.subject


def prepare(
    kind: str, request: BaseModel, ctx: RunContext, created: Collection[int] = ()
) -> PreparedOutput:
    """Check ``request`` for ``kind`` against the run and return what will be written.

    ``created`` are issue numbers this run created (it may comment on them). Raises
    OutputRefused with the reason when the kind is not configured, a label is not in the
    allowlist, a target is not the run's, a close reason or review verdict is not allowed.
    """
    config = getattr(ctx.outputs, kind) if kind in REQUEST_MODELS else None
    if config is None:
        raise OutputRefused(f"{kind}: not allowed for automation {ctx.automation!r}")
    notes: list[str] = []
    secrets = ctx.secrets
    target: int | None
    payload: dict[str, Any]
    if isinstance(request, CreateIssueRequest):
        allowed = set(config.labels) | set(
            ctx.outputs.add_labels.allowed if ctx.outputs.add_labels else []
        )
        labels = list(
            dict.fromkeys([*config.labels, *_check_labels(request.labels, allowed, kind)])
        )
        _check_approval(labels, ctx, kind)
        target, payload = (
            None,
            {
                "title": _title(request.title, config.title_prefix, secrets, notes),
                "body": _body(request.body, secrets, notes),
                "labels": labels,
                **prepare_parent(request.parent, ctx, config, created),
                **prepare_dedupe(request.dedupe),
            },
        )
    elif isinstance(request, CommentRequest):
        subject = ctx.subject
        target = request.number if request.number is not None else _subject(ctx, kind)
        if target != subject and target not in ctx.other_targets and target not in created:
            raise OutputRefused(
                f"{kind}: #{target} is not this run's subject"
                f" ({'#' + str(subject) if subject else 'none'}); comments go to the subject"
            )
        payload = {"body": _body(request.body, secrets, notes)}
    elif isinstance(request, AddLabelsRequest | RemoveLabelsRequest):
        target = _subject(ctx, kind)
        payload = {"labels": _check_labels(request.labels, config.allowed, kind)}
        if isinstance(request, AddLabelsRequest):
            _check_approval(payload["labels"], ctx, kind)
    elif isinstance(request, CloseIssueRequest):
        if request.reason not in config.reasons:
            raise OutputRefused(f"{kind}: reason {request.reason!r} is not allowed")
        target = _subject(ctx, kind)
        comment = _body(request.comment, secrets, notes, "comment") if request.comment else None
        payload = {"reason": request.reason, "comment": comment}
    elif isinstance(request, ReviewPullRequestRequest):
        if request.event not in config.events:
            raise OutputRefused(
                f"{kind}: verdict {request.event!r} is not allowed"
                f" (allowed: {', '.join(config.events)})"
            )
        if request.event != "APPROVE" and not request.body.strip():
            raise OutputRefused(f"{kind}: a {request.event} review needs a body")
        target = _subject(ctx, kind)
        payload = {"event": request.event, "body": _body(request.body, secrets, notes)}
    elif isinstance(request, OpenPullRequestRequest):
        target, payload = (
            None,
            {
                "title": _title(request.title, config.title_prefix, secrets, notes),
                "body": _body(request.body, secrets, notes),
                "labels": list(config.labels),
                "draft": config.draft,
            },
        )
    elif isinstance(request, MergePullRequestRequest):
        target = _subject(ctx, kind)
        payload = {"method": config.method, "reason": sanitize_body(request.reason, secrets)}
    elif isinstance(request, SlackReplyRequest | SlackReactRequest | SlackPostRequest):
        target, payload = None, prepare_slack(request, ctx, config, notes)
    elif isinstance(request, SentryUpdateRequest):
        target, payload = None, prepare_sentry(request, ctx, config, notes, created)
    elif isinstance(request, ProposeConfigChangeRequest):
        target, payload = None, prepare_config_change(request, ctx, config, notes)
    elif isinstance(request, PushToPullRequestRequest):
        target, payload = prepare_push(request, ctx, notes)
    elif isinstance(request, RevertPullRequestRequest):
        target = request.pull_number
        payload = prepare_revert(request, ctx, config, notes, created)
    else:
        raise OutputRefused(f"{kind}: unknown output kind")
    return PreparedOutput(kind, target, payload, tuple(notes))
