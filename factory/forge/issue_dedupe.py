"""Dedupe keys on ``create_issue``: one open issue per thing a run files about.

A run that files issues on a schedule (the planner's quality issues, one per area graded
below B) asks with ``dedupe: "quality:storage"``. The daemon writes the key into the issue's
body as a hidden line (``<!-- factoryd:dedupe key=… -->``) and, before opening a new issue,
lists the open issues: if one carries the same key (written by the factory: the line is
only trusted in issues the bot opened) or has the same title (by anyone, case-insensitive),
the request is refused naming that issue. Agent text cannot forge the line: every HTML
comment mentioning factoryd is stripped from what an agent writes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from factory.errors import OutputRefused

if TYPE_CHECKING:
    from factory.forge.output_requests import RunContext

DEDUPE_PATTERN = r"^[A-Za-z0-9:._-]{1,100}$"
"""What a dedupe key may be made of (it goes into an HTML comment)."""
SCAN_LIMIT = 300
"""Open issues looked at for a duplicate, newest first."""

_LINE = re.compile(r"<!-- factoryd:dedupe key=(?P<key>[A-Za-z0-9:._-]{1,100}) -->")


def prepare_dedupe(key: str | None) -> dict[str, Any]:
    """Return the payload fields for ``key`` (none when it is None)."""
    return {} if key is None else {"dedupe": key}


def with_key(body: str, key: str | None) -> str:
    """Return ``body`` with the dedupe line for ``key`` appended (unchanged for None)."""
    if key is None:
        return body
    line = f"<!-- factoryd:dedupe key={key} -->"
    return f"{body.rstrip()}\n\n{line}" if body.strip() else line


def keys_in(body: str | None) -> list[str]:
    """Return the dedupe keys written in ``body``."""
    return [m["key"] for m in _LINE.finditer(body or "")]


def refuse_open_duplicate(ctx: RunContext, payload: dict[str, Any]) -> None:
    """Raise OutputRefused when an open issue already has the payload's dedupe key or title.

    Does nothing for a payload without a dedupe key.
    """
    key = payload.get("dedupe")
    if not isinstance(key, str):
        return
    title = str(payload["title"]).casefold()
    issues = ctx.repo.get_issues(state="open", sort="created", direction="desc")
    for n, issue in enumerate(issues):
        if n >= SCAN_LIMIT:
            return
        if issue.pull_request is not None:
            continue
        ours = ctx.bot_login is None or issue.user.login == ctx.bot_login
        if issue.title.casefold() == title or (ours and key in keys_in(issue.body)):
            raise OutputRefused(
                f"create_issue: #{issue.number} ({issue.title!r}) is already open for"
                f" {key!r}; nothing was filed (comment there instead, if it needs more)"
            )
