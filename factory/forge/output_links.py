"""Lineage of applied outputs: an issue filed by a run about a Slack thread, a Sentry issue or
a pull request is linked from that origin (``slack:C/TS → issue:N``, ``sentry:ID → issue:N``,
``pull_request:P → issue:N``); a revert from what it reverts and its run's issues.

One mechanism for every origin: the run's side for it (``ctx.slack``, ``ctx.sentry``) says
whether the run's subject *is* the origin (``from_subject``); only then does an issue the
run filed (or, for Sentry, the issue a second filing commented on instead) grow out of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from factory.errors import RunNotFound
from factory.store.lineage import SENTRY_PREFIX, SLACK_PREFIX

if TYPE_CHECKING:
    from factory.forge.output_requests import RunContext


def origins(ctx: RunContext) -> list[str]:
    """Return the subject keys a run's filed issues grow out of (its own Slack thread or
    Sentry issue; none for a run about anything else)."""
    keys: list[str] = []
    slack, sentry = ctx.slack, ctx.sentry
    if slack is not None and slack.from_subject and slack.thread is not None:
        keys.append(f"{SLACK_PREFIX}{slack.thread}")
    if sentry is not None and sentry.from_subject and sentry.issue_id is not None:
        keys.append(f"{SENTRY_PREFIX}{sentry.issue_id}")
    return keys


def link_output(ctx: RunContext, kind: str, result: Any, output_id: int) -> None:
    """Record what an applied output links: the issue number of an applied create_issue,
    linked from each of the run's origins (and from the pull request a run is about, e.g.
    the merge the post-merge verifier found failing); a revert pull request, linked from the
    pull request it reverts and from the issues its run filed."""
    number = result.get("number") if isinstance(result, dict) else None
    if not isinstance(number, int) or isinstance(number, bool):
        return
    if kind == "revert_pull_request":
        link_revert(ctx, result, number, output_id)
    if kind != "create_issue":
        return
    for origin in [*origins(ctx), *_pull_subject(ctx)]:
        ctx.store.add_link(origin, f"issue:{number}", run_id=ctx.run_id, output_id=output_id)


def _pull_subject(ctx: RunContext) -> list[str]:
    try:
        key = ctx.store.get_run(ctx.run_id).subject_key
    except RunNotFound:  # a context built without a stored run (tools, tests)
        return []
    return [key] if key and key.startswith("pull_request:") else []


def link_revert(ctx: RunContext, result: dict[str, Any], number: int, output_id: int) -> None:
    """Link a revert pull request ``number``: reverted PR → revert, each filed issue → revert."""
    reverted, issues = result.get("reverts"), result.get("issues") or []
    froms = [f"pull_request:{reverted}"] if isinstance(reverted, int) else []
    froms += [f"issue:{n}" for n in issues if isinstance(n, int)]
    for key in froms:
        ctx.store.add_link(key, f"pull_request:{number}", run_id=ctx.run_id, output_id=output_id)
