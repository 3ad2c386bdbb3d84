"""Performers: how each output kind is written to GitHub, and found again after a crash.

An ``OutputPerformer`` is a pair of functions. ``perform`` writes a prepared output and
returns what was made; ``find`` looks on GitHub for a write an earlier attempt already made
(by the hidden marker carrying the idempotency key, or by state for labels and closing) and
returns it, or None. ``find`` must never write.

``BUILTIN_PERFORMERS`` covers comment, create_issue, add_labels, remove_labels, close_issue,
review_pull_request, and the Slack kinds slack_reply, slack_post and slack_react (written in
``factory.forge.slack_outputs``; they need ``RunContext.slack``). open_pull_request and
merge_pull_request need the workspace and the merge policy: the daemon adds performers for
them to the mapping it gives ``OutputGate`` (their payloads are described in
``factory.forge.output_requests.prepare``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from github.Issue import Issue
from github.IssueComment import IssueComment

from factory.forge import issue_dedupe, sentry_filing, sentry_outputs, slack_outputs, sub_issues
from factory.forge.markers import append_marker, has_marker
from factory.forge.output_requests import PreparedOutput, RunContext


@dataclass(frozen=True)
class Applied:
    """What a performed (or found) output is on GitHub."""

    url: str | None
    """Link to the object (comment, issue, review, pull request)."""
    result: dict[str, Any] = field(default_factory=dict)
    """Ids and numbers worth keeping (stored with the output)."""


PerformFn = Callable[[RunContext, PreparedOutput, str], Applied]
"""Write ``prepared`` with idempotency key ``key``; raise GithubException on failure."""

FindFn = Callable[[RunContext, PreparedOutput, str, datetime], Applied | None]
"""Return the write an earlier attempt made (intent recorded at the datetime), or None."""


@dataclass(frozen=True)
class OutputPerformer:
    """How one output kind is performed and found again."""

    perform: PerformFn
    """Writes the output."""
    find: FindFn
    """Finds an earlier write of the same output without writing."""


LOOKBACK = timedelta(minutes=10)
"""How long before its intent an object may look created (clock skew with GitHub)."""

FIND_LIMIT = 200
"""Most recent issues scanned for a marker when reconciling create_issue."""


def _target(prepared: PreparedOutput) -> int:
    if prepared.target is None:
        raise ValueError(f"{prepared.kind} output has no target number")
    return prepared.target


def _find_comment(issue: Issue, key: str, since: datetime | None) -> IssueComment | None:
    comments = issue.get_comments() if since is None else issue.get_comments(since - LOOKBACK)
    for comment in comments:
        if has_marker(comment.body, key):
            return comment
    return None


def _comment_applied(comment: IssueComment) -> Applied:
    return Applied(comment.html_url, {"comment_id": comment.id})


# -- comment ---------------------------------------------------------------------------


def perform_comment(ctx: RunContext, prepared: PreparedOutput, key: str) -> Applied:
    """Post the comment with its marker; return its URL and id."""
    issue = ctx.repo.get_issue(_target(prepared))
    body = append_marker(prepared.payload["body"], ctx.run_id, key)
    return _comment_applied(issue.create_comment(body))


def find_comment(
    ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
) -> Applied | None:
    """Return the target's comment carrying ``key``, or None."""
    found = _find_comment(ctx.repo.get_issue(_target(prepared)), key, since)
    return _comment_applied(found) if found else None


# -- create_issue ------------------------------------------------------------------------


def _issue_applied(issue: Issue) -> Applied:
    return Applied(issue.html_url, {"number": issue.number})


def perform_create_issue(ctx: RunContext, prepared: PreparedOutput, key: str) -> Applied:
    """Open the issue with its marker and labels (unless an open duplicate has its dedupe
    key: OutputRefused) and link it under its ``parent``; return its URL and number."""
    p = prepared.payload
    parent = p.get("parent")
    # A crashed attempt may have opened the sub-issue and died before linking it.
    issue = _issue_with_marker(ctx, key, None) if parent else None
    if issue is None:
        issue_dedupe.refuse_open_duplicate(ctx, p)
        body = issue_dedupe.with_key(p["body"], p.get("dedupe"))
        issue = ctx.repo.create_issue(
            p["title"], body=append_marker(body, ctx.run_id, key), labels=list(p["labels"])
        )
    if parent:
        sub_issues.link(ctx, int(parent), issue)
    return _issue_applied(issue)


def _issue_with_marker(ctx: RunContext, key: str, since: datetime | None) -> Issue | None:
    filters: dict[str, Any] = {"state": "all", "sort": "created", "direction": "desc"}
    if since is not None:
        filters["since"] = since - LOOKBACK
    if ctx.bot_login:
        filters["creator"] = ctx.bot_login
    for n, issue in enumerate(ctx.repo.get_issues(**filters)):
        if n >= FIND_LIMIT:
            break
        if has_marker(issue.body, key):
            return issue
    return None


def find_created_issue(
    ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
) -> Applied | None:
    """Return the recent issue (by the bot, when its login is known) carrying ``key``; a
    sub-issue only once it is linked under its parent (else perform links it)."""
    issue = _issue_with_marker(ctx, key, since)
    parent = prepared.payload.get("parent")
    if issue is None or (parent and not sub_issues.is_linked(ctx, int(parent), issue.number)):
        return None
    return _issue_applied(issue)


# -- labels ------------------------------------------------------------------------------


def _labels_applied(issue: Issue, names: set[str]) -> Applied:
    return Applied(issue.html_url, {"labels": sorted(names)})


def _label_names(issue: Issue) -> set[str]:
    return {label.name for label in issue.get_labels()}


def _folded(names: Iterable[str]) -> set[str]:
    # GitHub label names are case-insensitive.
    return {name.casefold() for name in names}


def perform_add_labels(ctx: RunContext, prepared: PreparedOutput, key: str) -> Applied:
    """Add the labels (adding is idempotent on GitHub); return the labels now on the issue."""
    issue = ctx.repo.get_issue(_target(prepared))
    issue.add_to_labels(*prepared.payload["labels"])
    return _labels_applied(issue, _label_names(issue))


def find_added_labels(
    ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
) -> Applied | None:
    """Return the issue's labels if all requested labels are already on it, else None."""
    issue = ctx.repo.get_issue(_target(prepared))
    names = _label_names(issue)
    wanted = _folded(prepared.payload["labels"])
    return _labels_applied(issue, names) if wanted <= _folded(names) else None


def perform_remove_labels(ctx: RunContext, prepared: PreparedOutput, key: str) -> Applied:
    """Remove those of the labels that are on the issue; return the labels left."""
    issue = ctx.repo.get_issue(_target(prepared))
    names = _label_names(issue)
    unwanted = _folded(prepared.payload["labels"])
    for name in sorted(names):
        if name.casefold() in unwanted:
            issue.remove_from_labels(name)
            names.discard(name)
    return _labels_applied(issue, names)


def find_removed_labels(
    ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
) -> Applied | None:
    """Return the issue's labels if none of the labels to remove is on it, else None."""
    issue = ctx.repo.get_issue(_target(prepared))
    names = _label_names(issue)
    unwanted = _folded(prepared.payload["labels"])
    return None if unwanted & _folded(names) else _labels_applied(issue, names)


# -- close_issue -------------------------------------------------------------------------


def perform_close_issue(ctx: RunContext, prepared: PreparedOutput, key: str) -> Applied:
    """Post the closing comment (unless an earlier attempt did) and close the issue."""
    issue = ctx.repo.get_issue(_target(prepared))
    comment = prepared.payload.get("comment")
    result: dict[str, Any] = {}
    if comment:
        # The intent row exists, so a crash may have left the comment without the close.
        posted = _find_comment(issue, key, None) or issue.create_comment(
            append_marker(comment, ctx.run_id, key)
        )
        result["comment_id"] = posted.id
    if issue.state != "closed":
        issue.edit(state="closed", state_reason=prepared.payload["reason"])
    return Applied(issue.html_url, result)


def find_closed_issue(
    ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
) -> Applied | None:
    """Return the issue if it is closed and its closing comment (if any) is posted."""
    issue = ctx.repo.get_issue(_target(prepared))
    if issue.state != "closed":
        return None
    if not prepared.payload.get("comment"):
        return Applied(issue.html_url, {})
    found = _find_comment(issue, key, since)
    return Applied(issue.html_url, {"comment_id": found.id}) if found else None


# -- review_pull_request -----------------------------------------------------------------


def perform_review(ctx: RunContext, prepared: PreparedOutput, key: str) -> Applied:
    """Submit the review with its marker; return its URL and id."""
    pull = ctx.repo.get_pull(_target(prepared))
    body = append_marker(prepared.payload["body"], ctx.run_id, key)
    review = pull.create_review(body=body, event=prepared.payload["event"])
    return Applied(review.html_url, {"review_id": review.id})


def find_review(
    ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
) -> Applied | None:
    """Return the subject pull request's review carrying ``key``, or None."""
    for review in ctx.repo.get_pull(_target(prepared)).get_reviews():
        if has_marker(review.body, key):
            return Applied(review.html_url, {"review_id": review.id})
    return None


# -- Slack (factory.forge.slack_outputs) ------------------------------------------------


def _slack(
    perform: Callable[[RunContext, PreparedOutput, str], slack_outputs.Written],
    find: Callable[[RunContext, PreparedOutput, str, datetime], slack_outputs.Written | None],
) -> OutputPerformer:
    def performed(ctx: RunContext, prepared: PreparedOutput, key: str) -> Applied:
        return Applied(*perform(ctx, prepared, key))

    def found(
        ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
    ) -> Applied | None:
        written = find(ctx, prepared, key, since)
        return None if written is None else Applied(*written)

    return OutputPerformer(performed, found)


BUILTIN_PERFORMERS: Mapping[str, OutputPerformer] = {
    "comment": OutputPerformer(perform_comment, find_comment),
    "create_issue": _slack(*sentry_filing.filing(perform_create_issue, find_created_issue)),
    "add_labels": OutputPerformer(perform_add_labels, find_added_labels),
    "remove_labels": OutputPerformer(perform_remove_labels, find_removed_labels),
    "close_issue": OutputPerformer(perform_close_issue, find_closed_issue),
    "review_pull_request": OutputPerformer(perform_review, find_review),
    "slack_reply": _slack(slack_outputs.perform_reply, slack_outputs.find_reply),
    "slack_react": _slack(slack_outputs.perform_react, slack_outputs.find_react),
    "slack_post": _slack(slack_outputs.perform_post, slack_outputs.find_post),
    "sentry_update": _slack(sentry_outputs.perform_update, sentry_outputs.find_update),
}
"""Performers built here; the daemon adds open_pull_request and merge_pull_request."""
