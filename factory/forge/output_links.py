"""Lineage of applied outputs: an issue filed by a run about a Slack thread or a Sentry issue
is linked from that origin (``slack:C/TS → issue:N``, ``sentry:ID → issue:N``).

One mechanism for every origin: the run's side for it (``ctx.slack``, ``ctx.sentry``) says
whether the run's subject *is* the origin (``from_subject``); only then does an issue the
run filed (or, for Sentry, the issue a second filing commented on instead) grow out of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    linked from each of the run's origins."""
    if kind != "create_issue":
        return
    number = result.get("number") if isinstance(result, dict) else None
    if not isinstance(number, int) or isinstance(number, bool):
        return
    for origin in origins(ctx):
        ctx.store.add_link(origin, f"issue:{number}", run_id=ctx.run_id, output_id=output_id)
