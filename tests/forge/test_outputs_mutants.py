"""Tests that kill mutants `make mutants` found alive in factory/forge/outputs.py.

Most survivors were the gate's log lines: each outcome logs one fixed event with the run,
the kind and the output row; these tests pin those lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from github import Auth, Github
from structlog.testing import capture_logs

from factory.config.automation import Outputs
from factory.forge.output_requests import RunContext
from factory.forge.outputs import OutputGate
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub

BOT, BOT_TOKEN = "factory-bot", "t-factory-bot"
REPO = "acme/widgets"
MakeCtx = Callable[[dict[str, Any]], RunContext]


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    """A FakeGitHub with the bot (write), alice (admin) and issue #1 by alice."""
    with FakeGitHub() as server:
        server.add_user(BOT, token=BOT_TOKEN, permission="write")
        server.add_user("alice", token="t-alice", permission="admin")
        server.create_repo(REPO)
        server.create_issue(REPO, "Widgets are broken", "It breaks.", as_user="alice")
        yield server


@pytest.fixture
def make_ctx(fake: FakeGitHub, store: RunStore) -> MakeCtx:
    """Return ``make(outputs)``: a new run's context on issue #1, as the bot."""
    gh = Github(base_url=fake.api_url, auth=Auth.Token(BOT_TOKEN), seconds_between_writes=None)
    repo = gh.get_repo(REPO)

    def make(outputs: dict[str, Any]) -> RunContext:
        run_id = store.create_run("builder")
        return RunContext(run_id, "builder", Outputs.model_validate(outputs), 1, repo, store)

    return make


def _gate_lines(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the gate's own log lines (the store and FakeGitHub log too)."""
    return [e for e in logs if str(e["event"]).startswith("output")]


def test_applied_output_logs_intent_then_applied(make_ctx: MakeCtx) -> None:
    """A performed comment logs output_intent, then output_applied with its URL."""
    ctx = make_ctx({"comment": {}})
    with capture_logs() as logs:
        decision = OutputGate().request(ctx, "comment", {"body": "hi"})
    common = {"run_id": ctx.run_id, "kind": "comment", "output_id": decision.output_id}
    assert _gate_lines(logs) == [
        {"event": "output_intent", "log_level": "info", **common},
        {"event": "output_applied", "log_level": "info", "url": decision.url, **common},
    ]


def test_refused_output_logs_output_refused_with_the_reason(make_ctx: MakeCtx) -> None:
    """A refused request logs one output_refused line with the run, kind and reason."""
    ctx = make_ctx({"comment": {}})
    with capture_logs() as logs:
        decision = OutputGate().request(ctx, "create_issue", {"title": "x"})
    assert _gate_lines(logs) == [
        {
            "event": "output_refused",
            "log_level": "info",
            "run_id": ctx.run_id,
            "kind": "create_issue",
            "reason": decision.reason,
        }
    ]


def test_failed_output_logs_output_failed_with_the_reason(make_ctx: MakeCtx) -> None:
    """A write GitHub rejects logs output_intent, then a warning output_failed with the reason."""
    ctx = make_ctx({"review_pull_request": {}})
    with capture_logs() as logs:
        decision = OutputGate().request(
            ctx, "review_pull_request", {"event": "COMMENT", "body": "ok"}
        )
    assert _gate_lines(logs)[-1] == {
        "event": "output_failed",
        "log_level": "warning",
        "run_id": ctx.run_id,
        "kind": "review_pull_request",
        "reason": decision.reason,
    }
