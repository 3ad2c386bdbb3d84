"""Staged outputs through the gate: recorded as would-have, nothing written to GitHub or Slack."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from github import Auth, Github

from factory.config.automation import AutomationSpec
from factory.config.outputs_config import Outputs
from factory.forge.output_requests import RunContext
from factory.forge.outputs import OutputGate
from factory.slack.messages import SlackSide
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_slack import FakeSlack
from tests.forge.slack_helpers import bot_client, new_mention, setup_workspace

BOT, BOT_TOKEN = "factory-bot", "t-factory-bot"
WRITES = ("POST", "PATCH", "PUT", "DELETE")
_names = itertools.count(1)
MakeCtx = Callable[..., RunContext]
EVERYTHING = {
    "comment": {"max": 2},
    "add_labels": {"allowed": ["needs-human"]},
    "create_issue": {},
    "close_issue": {},
    "slack_reply": {},
    "slack_react": {},
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGitHub]:
    """One FakeGitHub per module, with the bot (write) and alice (admin)."""
    with FakeGitHub() as server:
        server.add_user(BOT, token=BOT_TOKEN, permission="write")
        server.add_user("alice", token="t-alice", permission="admin")
        yield server


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    """One FakeSlack per module with alice and bob."""
    with FakeSlack() as server:
        setup_workspace(server)
        yield server


@pytest.fixture
def repo_name(fake: FakeGitHub) -> str:
    """A fresh repo whose issue #1 was opened by alice."""
    name = f"acme/staged-{next(_names)}"
    fake.create_repo(name)
    fake.create_issue(name, "Widgets are broken", "It breaks.", as_user="alice")
    return name


@pytest.fixture
def make_ctx(fake: FakeGitHub, slack: FakeSlack, repo_name: str, store: RunStore) -> MakeCtx:
    """Return ``make(outputs)``: a new run's context about issue #1 and a fresh Slack thread."""
    gh = Github(
        base_url=fake.api_url,
        auth=Auth.Token(BOT_TOKEN),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    repo = gh.get_repo(repo_name)

    def make(outputs: Outputs) -> RunContext:
        mention = new_mention(slack)
        side = SlackSide(bot_client(slack), mention.thread, mention.ts, True, slack.bot_id)
        run_id = store.create_run("builder", subject_key="issue:1")
        return RunContext(run_id, "builder", outputs, 1, repo, store, slack=side)

    return make


def staged_automation(outputs: dict[str, Any] = EVERYTHING) -> AutomationSpec:
    """An automation with ``staged: true`` and ``outputs``."""
    return AutomationSpec.model_validate(
        {
            "name": "builder",
            "on": [{"manual": {}}],
            "prompt": "p",
            "staged": True,
            "outputs": outputs,
        }
    )


def ask_everything(gate: OutputGate, ctx: RunContext) -> list[str]:
    """Request one of each GitHub and Slack output; return the decisions' statuses."""
    requests: list[tuple[str, dict[str, Any]]] = [
        ("comment", {"body": "Looked into it."}),
        ("add_labels", {"labels": ["needs-human"]}),
        ("create_issue", {"title": "Follow-up", "body": "More."}),
        ("close_issue", {"reason": "completed"}),
        ("slack_reply", {"text": "On it."}),
        ("slack_react", {"name": "eyes"}),
    ]
    return [gate.request(ctx, kind, payload).status for kind, payload in requests]


def github_writes(fake: FakeGitHub) -> list[tuple[str, str, int]]:
    """Return the write requests FakeGitHub has answered so far."""
    return [entry for entry in list(fake.request_log) if entry[0] in WRITES]


def github_state(fake: FakeGitHub, name: str) -> tuple[Any, ...]:
    """Return a copy of the repo's issues, pull requests and labels."""
    repo = fake.repo(name)
    return copy.deepcopy((repo.issues, repo.pulls, repo.labels))


def slack_writes(slack: FakeSlack) -> list[str]:
    """Return the Slack Web API methods called so far that write."""
    return [m for m, _ in slack.calls if m in ("chat.postMessage", "reactions.add", "chat.update")]


def test_staged_automation_writes_nothing_to_github(
    fake: FakeGitHub, make_ctx: MakeCtx, repo_name: str
) -> None:
    """A staged automation's outputs make no GitHub write request and leave the repo as it was."""
    ctx = make_ctx(staged_automation().run_outputs())
    before = (github_writes(fake), github_state(fake, repo_name))
    ask_everything(OutputGate(), ctx)
    assert (github_writes(fake), github_state(fake, repo_name)) == before


def test_staged_automation_writes_nothing_to_slack(slack: FakeSlack, make_ctx: MakeCtx) -> None:
    """A staged automation's slack_reply and slack_react call no Slack method that writes."""
    ctx = make_ctx(staged_automation().run_outputs())
    before = slack_writes(slack)
    ask_everything(OutputGate(), ctx)
    assert slack_writes(slack) == before


def test_staged_outputs_are_told_as_staged(make_ctx: MakeCtx) -> None:
    """Each staged request comes back as a staged decision, not applied or refused."""
    statuses = ask_everything(OutputGate(), make_ctx(staged_automation().run_outputs()))
    assert statuses == ["staged"] * 6


def test_staged_outputs_are_stored_as_would_have(make_ctx: MakeCtx, store: RunStore) -> None:
    """Every staged request is one outputs row with status staged and the prepared request."""
    ctx = make_ctx(staged_automation().run_outputs())
    OutputGate().request(ctx, "comment", {"body": "Looked into it."})
    rows = [(r.kind, r.status, r.url) for r in store.outputs_for_run(ctx.run_id)]
    assert rows == [("comment", "staged", None)]


def test_staged_row_is_not_performed_by_reconcile(
    fake: FakeGitHub, make_ctx: MakeCtx, repo_name: str, store: RunStore
) -> None:
    """Reconcile after a crash never performs a staged row: it was never an intent."""
    ctx = make_ctx(staged_automation().run_outputs())
    OutputGate().request(ctx, "comment", {"body": "Looked into it."})
    live = RunContext(ctx.run_id, "builder", Outputs(comment={}), 1, ctx.repo, store)  # type: ignore[arg-type]
    OutputGate().reconcile(live)
    assert fake.issue(repo_name, 1).comments == []


def test_staged_outputs_count_against_the_quota(make_ctx: MakeCtx) -> None:
    """A staged kind keeps its quota, so the staged run is refused where the live one would be."""
    ctx = make_ctx(staged_automation({"comment": {"max": 1}}).run_outputs())
    gate = OutputGate()
    gate.request(ctx, "comment", {"body": "one"})
    assert gate.request(ctx, "comment", {"body": "two"}).status == "refused"


def test_repeated_staged_request_is_one_row(make_ctx: MakeCtx, store: RunStore) -> None:
    """The same staged request twice is one row, answered staged both times."""
    ctx = make_ctx(staged_automation().run_outputs())
    gate = OutputGate()
    first = gate.request(ctx, "comment", {"body": "same"})
    second = gate.request(ctx, "comment", {"body": "same"})
    assert (first.status, second.status, len(store.outputs_for_run(ctx.run_id))) == (
        "staged",
        "staged",
        1,
    )


def test_one_staged_kind_stages_only_that_kind(
    fake: FakeGitHub, make_ctx: MakeCtx, repo_name: str
) -> None:
    """``outputs: {comment: {staged: true}}`` stages comments while labels are still applied."""
    outputs = Outputs.model_validate(
        {"comment": {"staged": True}, "add_labels": {"allowed": ["needs-human"]}}
    )
    ctx = make_ctx(outputs)
    gate = OutputGate()
    comment = gate.request(ctx, "comment", {"body": "Looked into it."}).status
    labels = gate.request(ctx, "add_labels", {"labels": ["needs-human"]}).status
    issue = fake.issue(repo_name, 1)
    assert (comment, labels, issue.comments, issue.labels) == (
        "staged",
        "applied",
        [],
        ["needs-human"],
    )


def test_staged_decision_reads_as_done_to_the_model(make_ctx: MakeCtx) -> None:
    """The model is told the staged output was recorded, not that it failed."""
    ctx = make_ctx(staged_automation().run_outputs())
    decision = OutputGate().request(ctx, "comment", {"body": "Looked into it."})
    assert (decision.ok, decision.text()) == (
        True,
        "staged comment: recorded as would-have, not performed (staged mode)",
    )
