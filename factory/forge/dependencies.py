"""Dependencies between issues: what an issue waits for, read from GitHub.

What counts (and only this):

- in the issue's **body** (never its comments: anyone may comment, and a comment must not be
  able to hold work up or set it free), a line that says ``Depends on #N`` or ``Blocked by #N``
  (any case; a list ``Depends on #3, #4 and #5``), also as a task-list item
  (``- [ ] Depends on #3``), and a task-list item that is an issue reference (``- [ ] #7``,
  checked or not: the referenced issue's state decides);
- the issue's GitHub **sub-issues**: a parent is blocked by its open sub-issues.

What does not count: text inside fenced code blocks, inline code, block quotes (``> …``,
someone else's words quoted) and HTML comments; references to another repository
(``owner/repo#N``); the issue itself.

An issue is *blocked* while any issue it depends on is open. Following the body references
from an issue may come back to it: a *cycle* (``#A → #B → #A``), which no closing can
resolve; the walk is bounded (``MAX_WALK`` issues) so a large graph costs a bounded number of
requests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from github.GithubException import GithubException
from github.Repository import Repository

MAX_DEPENDENCIES = 50
"""References read from one body; more are ignored (a body is data from a person)."""
MAX_WALK = 30
"""Issues visited when looking for a cycle."""

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_INLINE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_PHRASE = re.compile(r"\b(?:depends\s+on|blocked\s+by)\b\s*:?\s*", re.IGNORECASE)
_LIST = re.compile(r"(?:#\d+)(?:\s*(?:,|\band\b|&)?\s*#\d+)*", re.IGNORECASE)
_REF = re.compile(r"#(\d+)")
_TASK_REF = re.compile(r"^\s*[-*+]\s+\[[ xX]\]\s+#(\d+)\b")


def _visible_lines(body: str) -> list[str]:
    """Return the body's lines outside code fences, quotes and HTML comments, inline code
    blanked out."""
    lines: list[str] = []
    fence: str | None = None
    for line in _COMMENT.sub(" ", body).splitlines():
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        if line.lstrip().startswith(">"):
            continue
        lines.append(_INLINE.sub(" ", line))
    return lines


def parse_dependencies(body: str | None, *, own: int | None = None) -> tuple[int, ...]:
    """Return the issue numbers ``body`` says it depends on, in order of first mention,
    without ``own`` (the issue itself) and at most ``MAX_DEPENDENCIES``."""
    found: list[int] = []
    for line in _visible_lines(body or ""):
        numbers: list[str] = []
        task = _TASK_REF.match(line)
        if task:
            numbers.append(task.group(1))
        for phrase in _PHRASE.finditer(line):
            listed = _LIST.match(line, phrase.end())
            if listed:
                numbers += _REF.findall(listed.group(0))
        for text in numbers:
            number = int(text)
            if number != own and number > 0 and number not in found:
                found.append(number)
    return tuple(found[:MAX_DEPENDENCIES])


@dataclass(frozen=True)
class IssueState:
    """What the dependency check reads of one issue."""

    number: int
    open: bool
    body: str
    is_pull: bool


class DependencyReader:
    """Reads issues and their sub-issues from GitHub (one repository) for the gate."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo

    def issue(self, number: int) -> IssueState | None:
        """Return issue ``number``'s state, or None when GitHub has no such issue (404/410)."""
        status, _, data = self._get(f"/issues/{number}")
        if status in (404, 410) or not isinstance(data, dict):
            return None
        return IssueState(
            number=number,
            open=data.get("state") == "open",
            body=str(data.get("body") or ""),
            is_pull="pull_request" in data,
        )

    def sub_issues(self, number: int) -> list[IssueState]:
        """Return issue ``number``'s sub-issues (GitHub's ``GET …/sub_issues``, every page)."""
        found: list[IssueState] = []
        page = 1
        while page <= 10:
            status, _, data = self._get(f"/issues/{number}/sub_issues?per_page=100&page={page}")
            if status != 200 or not isinstance(data, list):
                return found
            found += [
                IssueState(int(d["number"]), d.get("state") == "open", "", False)
                for d in data
                if isinstance(d, dict)
            ]
            if len(data) < 100:
                return found
            page += 1
        return found

    def _get(self, path: str) -> tuple[int, dict[str, Any], Any]:
        """GET a repository path; return (status, headers, parsed JSON). Errors other than a
        missing object rise as GithubException."""
        requester: Any = self.repo._requester
        status, headers, text = requester.requestJson("GET", f"{self.repo.url}{path}")
        if status in (404, 410):
            return status, headers, None
        if status >= 400:
            raise GithubException(status, text, headers)
        return status, headers, json.loads(text) if text else None


@dataclass(frozen=True)
class Blockers:
    """What holds an issue back."""

    open: tuple[int, ...]
    """Issues it depends on that are open, in order."""
    cycle: tuple[int, ...] | None
    """A cycle through the issue, as the path from it back to it (``(A, B, A)``), or None."""


def blockers(reader: DependencyReader, number: int, body: str) -> Blockers:
    """Return the open issues that issue ``number`` (with ``body``) depends on, and a cycle
    through it if the body references lead back to it."""
    listed = parse_dependencies(body, own=number)
    subs = reader.sub_issues(number)
    blocking: list[int] = []
    for dep in listed:
        state = reader.issue(dep)
        if state is not None and state.open and not state.is_pull:
            blocking.append(dep)
    blocking += [s.number for s in subs if s.open and s.number not in blocking]
    cycle = find_cycle(number, listed, lambda n: _deps_of(reader, n)) if blocking else None
    return Blockers(tuple(blocking), cycle)


def _deps_of(reader: DependencyReader, number: int) -> tuple[int, ...]:
    state = reader.issue(number)
    if state is None or not state.open:
        return ()  # a closed issue blocks nothing: no cycle goes through it
    return parse_dependencies(state.body, own=number)


def find_cycle(
    start: int, first: tuple[int, ...], deps_of: Callable[[int], tuple[int, ...]]
) -> tuple[int, ...] | None:
    """Return a path ``start → … → start`` over ``deps_of`` (from ``first``), or None; at most
    ``MAX_WALK`` issues are expanded."""
    stack: list[tuple[int, tuple[int, ...]]] = [(dep, (start, dep)) for dep in reversed(first)]
    seen: set[int] = set()
    while stack and len(seen) < MAX_WALK:
        number, path = stack.pop()
        if number == start:
            return path
        if number in seen:
            continue
        seen.add(number)
        for dep in reversed(deps_of(number)):
            if dep == start or dep not in seen:
                stack.append((dep, (*path, dep)))
    return None
