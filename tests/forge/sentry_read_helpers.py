"""Helpers of the sentry_read tests: a real SentryClient on FakeSentry, reading, line picking."""

from __future__ import annotations

from typing import Any

from factory.agent.tools import ToolResult
from factory.forge.sentry_read import FENCE_AUTHOR, FENCE_KIND, SentryReader
from factory.sentry.client import SentryClient
from factory.testing.fake_sentry import DEFAULT_REQUEST, FakeSentry

END_FENCE = f"<<< end of {FENCE_KIND} by {FENCE_AUTHOR} >>>"


def client_of(sentry: FakeSentry, **kwargs: Any) -> SentryClient:
    """A real SentryClient for ``sentry`` that never sleeps."""
    return SentryClient(sentry.api_url, sentry.token, sentry.org, sleep=lambda _: None, **kwargs)


def read(
    sentry: FakeSentry, issue_id: str, secrets: tuple[str, ...] = (), **tool_input: Any
) -> ToolResult:
    """Run sentry_read on ``issue_id`` with the run's ``secrets``."""
    return SentryReader(client_of(sentry), issue_id, secrets).run(tool_input)


def text_of(sentry: FakeSentry, **issue: Any) -> str:
    """Add an issue to FakeSentry and return sentry_read's text of it."""
    result = read(sentry, sentry.add_issue(**issue))
    assert result.is_error is False
    return result.content


def line(text: str, start: str) -> str:
    """Return the one line of ``text`` that starts with ``start`` (stripped)."""
    found = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(start)]
    assert len(found) == 1, found
    return found[0]


def frame(
    filename: str, function: str, lineno: int, in_app: bool, code: str = "pass"
) -> dict[str, Any]:
    """A frame in the SDK's form."""
    return {
        "filename": filename,
        "function": function,
        "lineno": lineno,
        "in_app": in_app,
        "pre_context": ["# before"],
        "context_line": code,
        "post_context": ["# after"],
    }


def request(**fields: Any) -> dict[str, Any]:
    """FakeSentry's default request with ``fields`` replaced."""
    return {**DEFAULT_REQUEST, **fields}
