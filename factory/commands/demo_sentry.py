"""The demo's Sentry path: a production error becomes an issue, its fix resolves it, a
regression reopens it.

FakeSentry captures ``ZeroDivisionError`` in ``calc.mean`` (the sample's second bug) and sends
the signed ``issue.created`` webhook to the daemon. The incident responder files one issue
(``factory:triage``: Sentry content approves nothing), the maintainer approves it, the bug fixer
opens a pull request that closes it, the maintainer merges it, and the daemon resolves the
Sentry issue in the next release. Then the error comes back: Sentry sends ``issue.unresolved``
and the daemon reopens the issue with a comment and hands it to the bug fixer again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from github import Auth, Github

from factory.daemon.process import Daemon
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_sentry import FakeSentry
from factory.testing.sample import MAINTAINER, MAINTAINER_TOKEN, READY, REPO
from factory.testing.sample_sentry import ERROR_TITLE, MEAN_FRAMES

Say = Callable[[str], None]
T = TypeVar("T")


@dataclass(frozen=True)
class SentryDemo:
    """What the Sentry path did, one line each."""

    lines: list[str]


def run_sentry_path(
    daemon: Daemon, github: FakeGitHub, sentry: FakeSentry, url: str, say: Say, timeout_s: float
) -> SentryDemo:
    """Play the Sentry path against the running daemon; return what happened.

    Raises TimeoutError when a step does not happen within ``timeout_s`` (each step).
    """
    hook = f"{url}/webhooks/sentry"
    sentry_id = sentry.add_issue(ERROR_TITLE, culprit="calc in mean", frames=MEAN_FRAMES)
    say(f"production: {ERROR_TITLE} in calc.mean; Sentry sends issue.created …")
    sentry.deliver(hook, "issue", sentry.webhook_body("issue", "created", sentry_id))
    number = wait_for(lambda: _filed(github, sentry_id), timeout_s, "the incident issue")
    wait_for(lambda: _settled(daemon), timeout_s, "the incident responder")
    say(f"maintainer mara approves #{number} ({READY}) …")
    github.add_labels(REPO, number, READY, as_user=MAINTAINER)
    pull = wait_for(lambda: closing_pull(github, number), timeout_s, "the bug fixer's pull request")
    wait_for(lambda: _settled(daemon), timeout_s, "the bug fixer")
    say(f"maintainer mara merges #{pull} …")
    merge_as_maintainer(github, pull)
    status = wait_for(lambda: _resolved(sentry, sentry_id), timeout_s, "the Sentry resolution")
    say("the error comes back; Sentry sends issue.unresolved …")
    sentry.regress(sentry_id)
    sentry.deliver(hook, "issue", sentry.webhook_body("issue", "unresolved", sentry_id))
    wait_for(lambda: github.issue(REPO, number).state == "open" or None, timeout_s, "the reopen")
    builds = wait_for(lambda: _builds(daemon, number, 2), timeout_s, "the bug fixer's second run")
    comments = [c.body for c in github.repo(REPO).issues[number].comments]
    reopen = next((c for c in reversed(comments) if "regress" in c.lower()), "")
    return SentryDemo(
        [
            f"Sentry issue {sentry_id} ({ERROR_TITLE}) → issue #{number}, "
            f"{github.issue(REPO, number).title}",
            f"pull request #{pull} merged → Sentry issue {status}",
            f"regression → #{number} reopened: {_first_line(reopen)}",
            f"the bug fixer took #{number} up again ({builds} bug-fixer runs on it in all)",
        ]
    )


def merge_as_maintainer(github: FakeGitHub, pull: int) -> None:
    """Merge pull request ``pull`` the way the maintainer would, through the REST API."""
    maintainer = Github(auth=Auth.Token(MAINTAINER_TOKEN), base_url=github.api_url)
    maintainer.get_repo(REPO).get_pull(pull).merge()


def wait_for(probe: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Return ``probe()``'s first answer that is not None, asked every 0.2 s; raises
    TimeoutError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.2)
    raise TimeoutError(f"the demo waited {timeout_s:.0f}s for {what}")


def _filed(github: FakeGitHub, sentry_id: str) -> int | None:
    line = f"sentry-issue: {sentry_id}"
    for number, issue in github.repo(REPO).issues.items():
        if not issue.is_pr and line in (issue.body or "").splitlines():
            return number
    return None


def closing_pull(github: FakeGitHub, number: int) -> int | None:
    """Return the pull request whose body closes issue ``number``, or None."""
    closes = re.compile(rf"\bcloses #{number}\b", re.I)
    for pull in github.repo(REPO).pulls.values():
        if closes.search(github.issue(REPO, pull.number).body or ""):
            return pull.number
    return None


def _settled(daemon: Daemon) -> bool | None:
    runs = daemon.store.list_runs(limit=100)
    return True if runs and all(r.finished for r in runs) else None


def _builds(daemon: Daemon, number: int, at_least: int) -> int | None:
    """Return how many bug-fixer runs issue ``number`` (a bug) had once at least ``at_least``
    did and every run finished, else None."""
    runs = daemon.store.list_runs(automation="bug-fixer", subject=f"issue:{number}")
    return len(runs) if len(runs) >= at_least and _settled(daemon) else None


def _resolved(sentry: FakeSentry, sentry_id: str) -> str | None:
    state = sentry.issue_state(sentry_id)
    if state["status"] != "resolved":
        return None
    return "resolved in the next release" if state["statusDetails"] else "resolved"


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "(no comment)")[:160]
