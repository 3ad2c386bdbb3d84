"""One GitHub issue per Sentry issue: the ``sentry-issue: ID`` line, and filing as a comment.

Every ``create_issue`` goes through ``filing``, which wraps the built-in performer:

* **The line.** An issue filed by a run whose subject is a Sentry issue (``ctx.sentry`` with
  ``from_subject``) gets the visible line ``sentry-issue: <ID>`` as the last line of its body,
  right before the hidden factoryd marker. ``sentry_issue_in`` reads the line only there, and
  only when a well-formed marker follows it, so the daemon (and a responder searching with
  github_read) finds the issue filed for a Sentry issue.
* **No forged line.** Any ``sentry-issue:`` in the agent-written body of *every* created issue
  (whatever its run) is neutralized to ``sentry issue:`` first, so a model quoting an error
  message cannot make its issue look like the one filed for another Sentry issue. Issues
  found by search count only when their author is the bot (``ctx.bot_login``; without it,
  search is not trusted at all) and they are open issues, not pull requests.
* **A second filing becomes a comment.** Before filing for Sentry issue ID, the open issue
  already filed for it is looked up: lineage first (``sentry:ID → issue:N``, newest link
  first), then GitHub search for the line on the bot's open issues. When one is found, the
  request is performed as a comment there (``### title`` and the body, with the intent's key
  in the hidden marker) instead of a new issue, and the result names that issue's number (so
  the run may comment on it, and lineage links it). Chosen over a refusal: the model's work
  (its investigation) reaches the issue, and the outcome does not depend on the model
  reacting to a refusal. The labels asked for are not put on the existing issue.

Idempotency: ``find`` first looks for a new issue carrying the key (the built-in find), then
for a comment carrying the key on every issue lineage links to the Sentry issue and on the
open issue search finds for it; so a crash between GitHub's answer and the local commit makes
neither a second issue nor a second comment.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from github.GithubException import UnknownObjectException
from github.Issue import IssueSearchResult
from github.PaginatedList import PaginatedList

from factory.forge.markers import append_marker, has_marker, parse_markers, render_marker
from factory.store.lineage import SENTRY_PREFIX

if TYPE_CHECKING:
    from github.Issue import Issue

    from factory.forge.output_requests import PreparedOutput, RunContext

LINE_PREFIX = "sentry-issue: "
"""The visible line that names the Sentry issue a GitHub issue was filed for."""

SEARCH_LIMIT = 30
"""Search hits read when looking for the issue filed for a Sentry issue."""

LOOKBACK = timedelta(minutes=10)
"""How long before its intent a redirected comment may look created (clock skew)."""

_LINE_RE = re.compile(r"sentry-issue: ([0-9]{1,20})")
_FORGED_RE = re.compile(r"sentry-issue(\s*:)", re.IGNORECASE)

Written = tuple[str | None, dict[str, Any]]
"""What a performer made: its URL and the ids worth keeping."""


class _Made(Protocol):
    @property
    def url(self) -> str | None: ...

    @property
    def result(self) -> dict[str, Any]: ...


PerformFn = Callable[["RunContext", "PreparedOutput", str], _Made]
FindFn = Callable[["RunContext", "PreparedOutput", str, datetime], _Made | None]


# -- the line ------------------------------------------------------------------------------


def issue_line(sentry_id: str) -> str:
    """Return the line naming Sentry issue ``sentry_id``; raises ValueError for a non-id."""
    if not _LINE_RE.fullmatch(LINE_PREFIX + sentry_id):
        raise ValueError(f"a Sentry issue id is digits, got {sentry_id!r}")
    return LINE_PREFIX + sentry_id


def neutralize_lines(text: str) -> str:
    """Return agent-written ``text`` with every ``sentry-issue:`` made ``sentry issue:``."""
    return _FORGED_RE.sub(r"sentry issue\1", text)


def sentry_issue_in(body: str | None) -> str | None:
    """Return the Sentry issue id a body's line names, or None.

    Only the daemon's place counts: the last non-blank line before a final, well-formed
    factoryd marker line.
    """
    lines = [line.strip() for line in (body or "").splitlines() if line.strip()]
    markers = parse_markers(lines[-1]) if len(lines) >= 2 else []
    if len(markers) != 1 or lines[-1] != render_marker(markers[0].run_id, markers[0].key):
        return None
    found = _LINE_RE.fullmatch(lines[-2])
    return found[1] if found else None


def filed_for(ctx: RunContext) -> str | None:
    """Return the Sentry issue a create_issue of this run is filed for (None: not one)."""
    side = ctx.sentry
    if side is None or not side.from_subject or side.issue_id is None:
        return None
    return side.issue_id


def with_line(prepared: PreparedOutput, sentry_id: str | None) -> PreparedOutput:
    """Return ``prepared`` with forged lines neutralized and, for ``sentry_id``, its line."""
    body = neutralize_lines(str(prepared.payload.get("body", "")))
    if sentry_id is not None:
        body = (
            f"{body.rstrip()}\n\n{issue_line(sentry_id)}" if body.strip() else issue_line(sentry_id)
        )
    return dataclasses.replace(prepared, payload={**prepared.payload, "body": body})


# -- the issue already filed ------------------------------------------------------------------


def _author_query(login: str) -> str:
    # GitHub search names an App's bot account app/NAME, not NAME[bot].
    return f"app/{login.removesuffix('[bot]')}" if login.endswith("[bot]") else login


def _searched(ctx: RunContext, sentry_id: str) -> Iterator[int]:
    """Yield open issues by the bot whose line names ``sentry_id`` (search hits, checked)."""
    login = ctx.bot_login
    if not login:
        return
    query = (
        f"repo:{ctx.repo.full_name} is:issue is:open author:{_author_query(login)}"
        f' in:body "{issue_line(sentry_id)}"'
    )
    hits = PaginatedList(IssueSearchResult, ctx.repo.requester, "/search/issues", {"q": query})
    for n, hit in enumerate(hits):
        if n >= SEARCH_LIMIT:
            return
        if (
            hit.user is not None
            and hit.user.login.casefold() == login.casefold()
            and hit.state == "open"
            and hit.pull_request is None
            and sentry_issue_in(hit.body) == sentry_id
        ):
            yield hit.number


def _linked(ctx: RunContext, sentry_id: str) -> list[int]:
    """Return the issues lineage links from the Sentry issue, newest link first."""
    return list(reversed(ctx.store.issues_from(SENTRY_PREFIX + sentry_id)))


def _get(ctx: RunContext, number: int) -> Issue | None:
    try:
        return ctx.repo.get_issue(number)
    except UnknownObjectException:
        return None  # deleted or transferred: lineage outlived it


def open_issue_for(ctx: RunContext, sentry_id: str) -> Issue | None:
    """Return the open issue already filed for ``sentry_id`` (lineage, then search), or None."""
    for number in _linked(ctx, sentry_id):
        issue = _get(ctx, number)
        if issue is not None and issue.state == "open" and issue.pull_request is None:
            return issue
    for number in _searched(ctx, sentry_id):
        return _get(ctx, number)
    return None


# -- performing and finding ----------------------------------------------------------------


def comment_body(prepared: PreparedOutput) -> str:
    """Return the comment a create_issue becomes on the issue already filed."""
    p = prepared.payload
    return f"### {p['title']}\n\n{p['body']}".rstrip()


def _commented(issue: Issue, comment_id: int, url: str) -> Written:
    return url, {"number": issue.number, "comment_id": comment_id, "existing": True}


def filing(
    perform: PerformFn, find: FindFn
) -> tuple[
    Callable[[RunContext, PreparedOutput, str], Written],
    Callable[[RunContext, PreparedOutput, str, datetime], Written | None],
]:
    """Return create_issue's (perform, find) around the built-in ``perform`` and ``find``."""

    def performed(ctx: RunContext, prepared: PreparedOutput, key: str) -> Written:
        sentry_id = filed_for(ctx)
        existing = open_issue_for(ctx, sentry_id) if sentry_id is not None else None
        if existing is None:
            made = perform(ctx, with_line(prepared, sentry_id), key)
            return made.url, made.result
        body = append_marker(comment_body(with_line(prepared, None)), ctx.run_id, key)
        comment = existing.create_comment(body)
        return _commented(existing, comment.id, comment.html_url)

    def found(
        ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
    ) -> Written | None:
        made = find(ctx, prepared, key, since)
        if made is not None:
            return made.url, made.result
        sentry_id = filed_for(ctx)
        if sentry_id is None:
            return None
        numbers = dict.fromkeys([*_linked(ctx, sentry_id), *_searched(ctx, sentry_id)])
        for number in numbers:
            issue = _get(ctx, number)
            if issue is None:
                continue
            for comment in issue.get_comments(since - LOOKBACK):
                if has_marker(comment.body, key):
                    return _commented(issue, comment.id, comment.html_url)
        return None

    return performed, found
