"""Sub-issues a run files: ``create_issue`` with ``parent: N`` opens the issue and links it.

The link is GitHub's sub-issues API (``POST …/issues/{N}/sub_issues`` with the new issue's
*id*, not its number). Only an automation whose ``create_issue`` says ``sub_issues: true``
may ask, and only under the run's subject or an issue the run itself created: a run cannot
hang its issues under someone else's work.

Two writes, one output: a crash between opening the issue and linking it leaves an unlinked
issue carrying the output's marker. The retry finds that issue by its marker (it does not
open a second one), asks GitHub (``GET …/sub_issues``) whether the link is there, and makes
it only if it is not; so the link is made once and the issue exists once.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from github.GithubException import GithubException

from factory.crashpoints import crashpoint
from factory.errors import OutputFailed, OutputRefused

if TYPE_CHECKING:
    from github.Issue import Issue

    from factory.config.outputs_config import CreateIssueOutput
    from factory.forge.output_requests import RunContext

CRASH_BEFORE_LINK = "create_issue_before_link"
"""Crash point between opening a sub-issue and linking it under its parent."""


def prepare_parent(
    parent: int | None, ctx: RunContext, config: CreateIssueOutput, created: Collection[int]
) -> dict[str, Any]:
    """Return the payload fields for ``parent`` (none when it is None).

    Raises OutputRefused when the automation does not allow sub-issues or ``parent`` is
    neither the run's subject nor an issue this run created.
    """
    if parent is None:
        return {}
    if not config.sub_issues:
        raise OutputRefused(
            f"create_issue: sub-issues are not allowed for automation {ctx.automation!r}"
            " (its create_issue output has no `sub_issues: true`); leave out `parent`"
        )
    if parent != ctx.subject and parent not in created:
        subject = f"#{ctx.subject}" if ctx.subject is not None else "none"
        raise OutputRefused(
            f"create_issue: #{parent} is neither this run's subject ({subject}) nor an issue"
            " it created; sub-issues go under those only"
        )
    return {"parent": parent}


def is_linked(ctx: RunContext, parent: int, number: int) -> bool:
    """True when issue ``number`` is among ``parent``'s sub-issues on GitHub."""
    return any(sub.number == number for sub in ctx.repo.get_issue(parent).get_sub_issues())


def link(ctx: RunContext, parent: int, issue: Issue) -> None:
    """Link ``issue`` under ``parent`` unless GitHub already lists it there.

    Raises OutputFailed (naming both issues and GitHub's answer) when GitHub refuses the
    link: the issue stays open, unlinked, and a retry of the same request links it.
    """
    crashpoint(CRASH_BEFORE_LINK)
    try:
        if is_linked(ctx, parent, issue.number):
            return
        ctx.repo.get_issue(parent).add_sub_issue(issue.id)
    except GithubException as exc:
        data = exc.data if isinstance(exc.data, dict) else {}
        errors = data.get("errors") or [{}]
        said = errors[0].get("message") if isinstance(errors[0], dict) else None
        raise OutputFailed(
            f"create_issue: issue #{issue.number} was opened ({issue.html_url}) but GitHub"
            f" refused to link it under #{parent}: HTTP {exc.status}"
            f" {said or data.get('message') or ''}".rstrip()
        ) from None
