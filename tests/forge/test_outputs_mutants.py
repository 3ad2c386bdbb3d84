"""Tests that kill mutants `make mutants` found alive in factory/forge/outputs.py.

Many survivors were the gate's log lines: each outcome logs one fixed event with the run,
the kind and the output row; these tests pin those lines. The others pin each outcome's
decision and row: repeats, late refusals by a performer, GitHub failures, and reconcile.

Equivalent mutants (no observable difference):
- ``x__number__mutmut_1`` (``or`` -> ``and``) and ``x__number__mutmut_11`` (``or True``):
  every row the gate writes is either applied with a dict result whose number is GitHub's
  int, or not applied with no number in its result, so both reach the same answer.
- ``x__errors__mutmut_9``, ``_10`` (``'input'``): the request models have no model-level
  validator, so every validation error has a field location.
The crash points (``crashpoint(None)`` or a misspelt name) only show when the process is
killed there: the crash-point test below runs tests/forge/crash_worker.py in a child process
on the same ``factory`` package the test imported (``PYTHONPATH``), so the child runs the
active mutant too (MUTANT_UNDER_TEST is inherited), then repeats the request in-process.
It kills ``xǁOutputGateǁrequest__mutmut_39`` under mutmut. Not killable under mutmut:
``xǁOutputGateǁ_perform__mutmut_59``, ``_60``, ``_73``, ``_74``, ``_75`` (the crash points
after GitHub's reply). mutmut runs only the tests that call the mutated function in their
own process, and the test's in-process part calls ``_perform`` only for the crash before
GitHub (after a later crash the write is found, not performed again). Run by hand
(``cd mutants && MUTANT_UNDER_TEST=factory.forge.outputs.<name> pytest -k crash_at_each``)
the test fails on each of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github
from github.GithubException import GithubException
from structlog.testing import capture_logs

import factory
from factory.config.harness import load_harness
from factory.config.outputs_config import Outputs
from factory.crashpoints import CRASH_ENV, CRASH_LOG_ENV
from factory.forge.output_performers import BUILTIN_PERFORMERS, perform_create_issue
from factory.forge.output_requests import (
    CommentRequest,
    CreateIssueRequest,
    PreparedOutput,
    RunContext,
    prepare,
)
from factory.forge.outputs import OutputDecision, OutputGate, _github_reason
from factory.forge.pr_output import PullRequestSide, pull_request_performers
from factory.forge.sanitize import BODY_CAP
from factory.slack.client import web_client
from factory.slack.messages import SlackSide, SlackThread
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_slack import FakeSlack
from factory.workspace import Mirror

BOT, BOT_TOKEN = "factory-bot", "t-factory-bot"
REPO = "acme/widgets"
HARNESS = Path(__file__).resolve().parents[2] / "harness"
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
    """Return ``make(outputs, **fields)``: a new run's context on issue #1, as the bot."""
    gh = Github(base_url=fake.api_url, auth=Auth.Token(BOT_TOKEN), seconds_between_writes=None)
    repo = gh.get_repo(REPO)

    def make(outputs: dict[str, Any], **fields: Any) -> RunContext:
        run_id = store.create_run("builder")
        spec = Outputs.model_validate(outputs)
        return RunContext(run_id, "builder", spec, 1, repo, store, **fields)

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


# -- what the model is told ------------------------------------------------------------------


def test_failed_decision_text_names_kind_and_github_reason() -> None:
    """A failed decision tells the model the kind failed on GitHub, and why."""
    decision = OutputDecision("comment", "failed", reason="HTTP 404: Not Found")
    assert decision.text() == "comment failed on GitHub: HTTP 404: Not Found"


def test_duplicate_decision_text_says_already_performed() -> None:
    """A duplicate tells the model the output was already performed earlier, with its URL."""
    decision = OutputDecision("comment", "applied", url="https://x/1", duplicate=True)
    assert decision.text() == "already performed earlier comment: https://x/1"


def test_applied_decision_without_url_says_done() -> None:
    """An applied output with no URL (labels) is told as performed: done."""
    assert OutputDecision("add_labels", "applied").text() == "performed add_labels: done"


def test_decision_notes_follow_on_their_own_lines() -> None:
    """Each note of an applied decision is one more line of the text."""
    decision = OutputDecision("comment", "applied", url="u", notes=("a was cut", "b was added"))
    assert decision.text() == "performed comment: u\nnote: a was cut\nnote: b was added"


# -- the gate's performers -------------------------------------------------------------------


def test_gate_with_no_performers_performs_nothing(make_ctx: MakeCtx) -> None:
    """A gate given an empty performer mapping refuses a configured comment."""
    decision = OutputGate({}).request(make_ctx({"comment": {}}), "comment", {"body": "hi"})
    assert decision.reason == "comment: this daemon cannot perform it yet"


# -- requests and repeats -------------------------------------------------------------------


def test_intent_row_stores_the_prepared_output(make_ctx: MakeCtx, store: RunStore) -> None:
    """The row of a performed comment keeps the prepared target and payload."""
    ctx = make_ctx({"comment": {}})
    OutputGate().request(ctx, "comment", {"body": "hi"})
    [row] = store.outputs_for_run(ctx.run_id)
    assert row.request == {"target": 1, "payload": {"body": "hi"}}


def test_repeat_of_applied_output_makes_no_github_request(
    make_ctx: MakeCtx, fake: FakeGitHub
) -> None:
    """A repeated request of an applied comment is answered from its row alone."""
    ctx, gate = make_ctx({"comment": {}}), OutputGate()
    gate.request(ctx, "comment", {"body": "same"})
    before = len(fake.request_log)
    gate.request(ctx, "comment", {"body": "same"})
    assert fake.request_log[before:] == []


def test_repeat_answer_names_the_kind_and_the_first_row(make_ctx: MakeCtx) -> None:
    """The answer to a repeat is the first output's kind, URL and row, marked duplicate."""
    ctx, gate = make_ctx({"comment": {}}), OutputGate()
    first = gate.request(ctx, "comment", {"body": "same"})
    second = gate.request(ctx, "comment", {"body": "same"})
    assert second == OutputDecision(
        "comment", "applied", url=first.url, output_id=first.output_id, duplicate=True
    )


def _pending_comment(ctx: RunContext, body: str, target: int = 1) -> tuple[int, str]:
    """Record a comment intent as the gate would have (a crash before GitHub); return id, key."""
    prepared = prepare("comment", CommentRequest(body=body, number=target), ctx)
    key = prepared.key(ctx.scope)
    output_id, _ = ctx.store.record_output_intent(ctx.run_id, "comment", key, prepared.to_stored())
    return output_id, key


def test_request_matching_a_pending_intent_performs_it_with_its_notes(
    make_ctx: MakeCtx, fake: FakeGitHub, store: RunStore
) -> None:
    """Asking again for an output left at intent posts it once, on its row, with the notes."""
    ctx = make_ctx({"comment": {}})
    output_id, _ = _pending_comment(ctx, "z" * 60_001)
    decision = OutputGate().request(ctx, "comment", {"body": "z" * 60_001})
    [row] = store.outputs_for_run(ctx.run_id)
    assert (decision, len(fake.issue(REPO, 1).comments)) == (
        OutputDecision(
            "comment",
            "applied",
            url=row.url,
            output_id=output_id,
            notes=("the body was truncated to 60000 characters",),
        ),
        1,
    )


def test_other_kinds_do_not_use_a_kinds_quota(make_ctx: MakeCtx) -> None:
    """An applied add_labels does not count against a comment quota of one."""
    ctx, gate = make_ctx({"comment": {"max": 1}, "add_labels": {"allowed": ["bug"]}}), OutputGate()
    gate.request(ctx, "add_labels", {"labels": ["bug"]})
    assert gate.request(ctx, "comment", {"body": "hi"}).status == "applied"


def test_invalid_nested_field_is_named_by_its_dotted_path(make_ctx: MakeCtx) -> None:
    """A wrong item in a list is named field.index in the refusal."""
    ctx = make_ctx({"create_issue": {}})
    decision = OutputGate().request(ctx, "create_issue", {"title": "t", "labels": ["ok", 5]})
    assert decision.reason == (
        "create_issue: invalid request: labels.1: Input should be a valid string"
    )


# -- refusals -------------------------------------------------------------------------------


def test_refusal_decision_names_the_kind_and_its_row(make_ctx: MakeCtx, store: RunStore) -> None:
    """A refused request's decision carries its kind, reason and the refused row's id."""
    ctx = make_ctx({"comment": {}})
    decision = OutputGate().request(ctx, "create_issue", {"title": "x"})
    [row] = store.outputs_for_run(ctx.run_id)
    assert decision == OutputDecision(
        "create_issue",
        "refused",
        reason="create_issue: not allowed for automation 'builder'",
        output_id=row.id,
    )


def test_refused_request_keeps_non_json_values_as_text(make_ctx: MakeCtx, store: RunStore) -> None:
    """A refused request with a value JSON cannot hold is stored with that value as text."""
    ctx = make_ctx({"comment": {}})
    OutputGate().request(ctx, "create_issue", {"title": "x", "when": datetime(2026, 1, 2)})
    [row] = store.outputs_for_run(ctx.run_id)
    assert row.request == {"title": "x", "when": "2026-01-02 00:00:00"}


def test_refused_request_whose_redaction_breaks_json_is_stored_as_text(
    make_ctx: MakeCtx, store: RunStore
) -> None:
    """When a secret spans JSON syntax the refused request is kept as its redacted text."""
    ctx = make_ctx({"comment": {}}, secrets=('": "',))
    OutputGate().request(ctx, "create_issue", {"title": "x"})
    [row] = store.outputs_for_run(ctx.run_id)
    assert row.request == {"redacted": '{"title[redacted]x"}'}


def _no_workspace_gate(tmp_path: Path, fake: FakeGitHub) -> OutputGate:
    """The gate with the daemon's pull request performers for a run without a workspace."""
    side = PullRequestSide(
        workspace=None,
        sandbox=None,
        mirror=Mirror(tmp_path, REPO, fake.clone_url(REPO)),
        policy=load_harness(HARNESS).policy,
        data_dir=tmp_path,
        subject_slug="issue-1",
        open_config=None,
        merge_config=None,
    )
    return OutputGate({**BUILTIN_PERFORMERS, **pull_request_performers(side)})


NO_WORKSPACE = (
    "open_pull_request: this run has no workspace to take a change from "
    "(an interrupted run's retry will redo it)"
)


def test_late_refusal_by_a_performer_is_the_decision(
    make_ctx: MakeCtx, fake: FakeGitHub, tmp_path: Path
) -> None:
    """A performer refusing after the intent makes a refused decision on the intent's row."""
    ctx = make_ctx({"open_pull_request": {}})
    decision = _no_workspace_gate(tmp_path, fake).request(ctx, "open_pull_request", {"title": "t"})
    [row] = ctx.store.outputs_for_run(ctx.run_id)
    assert decision == OutputDecision(
        "open_pull_request", "refused", reason=NO_WORKSPACE, output_id=row.id
    )


def test_late_refusal_by_a_performer_is_recorded_with_its_reason(
    make_ctx: MakeCtx, fake: FakeGitHub, tmp_path: Path
) -> None:
    """A performer's late refusal marks the intent row refused with the reason."""
    ctx = make_ctx({"open_pull_request": {}})
    _no_workspace_gate(tmp_path, fake).request(ctx, "open_pull_request", {"title": "t"})
    [row] = ctx.store.outputs_for_run(ctx.run_id)
    assert (row.status, row.result) == ("refused", {"reason": NO_WORKSPACE})


def test_late_refusal_logs_output_refused(
    make_ctx: MakeCtx, fake: FakeGitHub, tmp_path: Path
) -> None:
    """A performer's late refusal logs output_refused with the run, kind and reason."""
    ctx = make_ctx({"open_pull_request": {}})
    gate = _no_workspace_gate(tmp_path, fake)
    with capture_logs() as logs:
        gate.request(ctx, "open_pull_request", {"title": "t"})
    assert _gate_lines(logs)[-1] == {
        "event": "output_refused",
        "log_level": "info",
        "run_id": ctx.run_id,
        "kind": "open_pull_request",
        "reason": NO_WORKSPACE,
    }


# -- failures ---------------------------------------------------------------------------------


def test_github_failure_decision_names_kind_reason_and_row(make_ctx: MakeCtx) -> None:
    """A write GitHub rejects is a failed decision with its kind, GitHub's reason and row."""
    ctx = make_ctx({"review_pull_request": {}})
    decision = OutputGate().request(ctx, "review_pull_request", {"event": "COMMENT", "body": "x"})
    [row] = ctx.store.outputs_for_run(ctx.run_id)
    assert decision == OutputDecision(
        "review_pull_request", "failed", reason="HTTP 404: Not Found", output_id=row.id
    )


def test_github_failure_is_recorded_with_the_error(make_ctx: MakeCtx) -> None:
    """A write GitHub rejects marks its row failed with the error GitHub gave."""
    ctx = make_ctx({"review_pull_request": {}})
    OutputGate().request(ctx, "review_pull_request", {"event": "COMMENT", "body": "x"})
    [row] = ctx.store.outputs_for_run(ctx.run_id)
    assert (row.status, row.result) == ("failed", {"error": "HTTP 404: Not Found"})


def test_github_reason_has_status_message_and_details() -> None:
    """GitHub's message and its errors list both make the reason."""
    exc = GithubException(422, {"message": "Validation Failed", "errors": [{"code": "invalid"}]})
    assert _github_reason(exc) == "HTTP 422: Validation Failed [{'code': 'invalid'}]"


def test_github_reason_without_details_is_status_and_message() -> None:
    """Without an errors list the reason is the status and GitHub's message."""
    assert _github_reason(GithubException(404, {"message": "Not Found"})) == "HTTP 404: Not Found"


def test_github_reason_of_a_text_body_is_the_text() -> None:
    """A reply whose body is not JSON (a proxy's text) is quoted as the message."""
    assert _github_reason(GithubException(502, "Bad gateway")) == "HTTP 502: Bad gateway"


def test_github_reason_of_an_empty_body_is_the_status() -> None:
    """A reply with no body gives only its status."""
    assert _github_reason(GithubException(500, None)) == "HTTP 500: "


# -- settling an intent (reconcile) -----------------------------------------------------------


def test_reconcile_without_a_performer_fails_the_intent(make_ctx: MakeCtx) -> None:
    """An intent whose kind the gate cannot perform is settled as failed, saying so."""
    ctx = make_ctx({"comment": {}})
    output_id, _ = _pending_comment(ctx, "hi")
    assert OutputGate({}).reconcile(ctx) == [
        OutputDecision("comment", "failed", reason="no performer for comment", output_id=output_id)
    ]


def test_reconcile_without_a_performer_records_the_error(make_ctx: MakeCtx) -> None:
    """An intent with no performer is marked failed with that error."""
    ctx = make_ctx({"comment": {}})
    _pending_comment(ctx, "hi")
    OutputGate({}).reconcile(ctx)
    [row] = ctx.store.outputs_for_run(ctx.run_id)
    assert (row.status, row.result) == ("failed", {"error": "no performer for comment"})


def test_reconcile_fails_when_github_rejects_the_lookup(make_ctx: MakeCtx) -> None:
    """An intent whose lookup GitHub answers 404 (no such issue) is settled as failed."""
    ctx = make_ctx({"comment": {}}, other_targets=frozenset({99}))
    output_id, _ = _pending_comment(ctx, "hi", target=99)
    assert OutputGate().reconcile(ctx) == [
        OutputDecision("comment", "failed", reason="HTTP 404: Not Found", output_id=output_id)
    ]


def _crashed_create_issue(ctx: RunContext) -> tuple[int, str | None]:
    """Record a create_issue intent and write it to GitHub, as a crash before marking leaves it."""
    prepared = prepare("create_issue", CreateIssueRequest(title="Follow-up"), ctx)
    key = prepared.key(ctx.scope)
    output_id, _ = ctx.store.record_output_intent(
        ctx.run_id, "create_issue", key, prepared.to_stored()
    )
    return output_id, perform_create_issue(ctx, prepared, key).url


def test_reconcile_finds_a_write_made_before_a_crash(make_ctx: MakeCtx, fake: FakeGitHub) -> None:
    """An intent already written to GitHub is found, answered as a duplicate, not rewritten."""
    ctx = make_ctx({"create_issue": {}}, bot_login=BOT)
    output_id, url = _crashed_create_issue(ctx)
    decisions = OutputGate().reconcile(ctx)
    assert (decisions, list(fake.repo(REPO).issues)) == (
        [OutputDecision("create_issue", "applied", url=url, output_id=output_id, duplicate=True)],
        [1, 2],
    )


def test_reconcile_marks_a_found_write_applied(make_ctx: MakeCtx, store: RunStore) -> None:
    """A found write marks its row applied with the issue's URL and number."""
    ctx = make_ctx({"create_issue": {}}, bot_login=BOT)
    _, url = _crashed_create_issue(ctx)
    OutputGate().reconcile(ctx)
    [row] = store.outputs_for_run(ctx.run_id)
    assert (row.status, row.url, row.result) == ("applied", url, {"number": 2})


def test_found_write_logs_output_found(make_ctx: MakeCtx) -> None:
    """A write found by reconcile logs output_found with the run, kind, row and URL."""
    ctx = make_ctx({"create_issue": {}}, bot_login=BOT)
    output_id, url = _crashed_create_issue(ctx)
    with capture_logs() as logs:
        OutputGate().reconcile(ctx)
    assert _gate_lines(logs) == [
        {
            "event": "output_found",
            "log_level": "info",
            "run_id": ctx.run_id,
            "kind": "create_issue",
            "output_id": output_id,
            "url": url,
        },
    ]


# -- settling every pending intent (daemon start) ----------------------------------------------


def test_reconcile_pending_settles_every_runs_intents(make_ctx: MakeCtx) -> None:
    """Intents of two runs are both settled, each in the context built for its own run."""
    first, second = make_ctx({"create_issue": {}}), make_ctx({"create_issue": {}})
    contexts = {first.run_id: first, second.run_id: second}
    ids = [_crashed_create_issue(ctx)[0] for ctx in (first, second)]
    decisions = OutputGate().reconcile_pending(first.store, lambda r: contexts[r.run_id])
    assert [(d.output_id, d.status, d.duplicate) for d in decisions] == [
        (ids[0], "applied", True),
        (ids[1], "applied", True),
    ]


def test_reconcile_pending_logs_how_many_it_settled(make_ctx: MakeCtx) -> None:
    """Settling the pending intents logs outputs_reconciled with their count."""
    ctx = make_ctx({"create_issue": {}})
    _crashed_create_issue(ctx)
    with capture_logs() as logs:
        OutputGate().reconcile_pending(ctx.store, lambda record: ctx)
    assert [e for e in logs if e["event"] == "outputs_reconciled"] == [
        {"event": "outputs_reconciled", "log_level": "info", "count": 1}
    ]


# -- Slack outputs through the gate ----------------------------------------------------------

THREAD = SlackThread("C0BUGS001", "1700000000.000100")


def test_reconcile_fails_a_reply_when_the_run_has_no_slack_client(make_ctx: MakeCtx) -> None:
    """A pending slack_reply settled without a Slack client fails with the performer's reason."""
    ctx = make_ctx({"slack_reply": {}})
    payload = {"channel": THREAD.channel, "thread_ts": THREAD.ts, "text": "hi"}
    prepared = PreparedOutput("slack_reply", None, payload)
    output_id, _ = ctx.store.record_output_intent(
        ctx.run_id, "slack_reply", prepared.key(ctx.scope), prepared.to_stored()
    )
    reason = f"slack_reply: run {ctx.run_id} has no Slack client (no bot token set)"
    assert OutputGate().reconcile(ctx) == [
        OutputDecision("slack_reply", "failed", reason=reason, output_id=output_id)
    ]


def test_slack_refusing_a_reply_fails_it_with_slacks_error(make_ctx: MakeCtx) -> None:
    """A reply Slack answers not_in_channel is a failed decision naming that error, on its row."""
    with FakeSlack() as slack:
        slack.add_channel(THREAD.channel, "bugs")
        slack.fail_next("chat.postMessage", "not_in_channel")
        side = SlackSide(web_client(slack.bot_token, slack.api_url), THREAD, THREAD.ts, True)
        ctx = make_ctx({"slack_reply": {}}, slack=side)
        decision = OutputGate().request(ctx, "slack_reply", {"text": "hi"})
    [row] = ctx.store.outputs_for_run(ctx.run_id)
    assert decision == OutputDecision(
        "slack_reply",
        "failed",
        reason="slack_reply: Slack answered not_in_channel",
        output_id=row.id,
    )


def test_issue_created_from_a_thread_is_linked_from_it_by_its_output(make_ctx: MakeCtx) -> None:
    """create_issue by a run about a thread links the thread to the issue, citing the row."""
    side = SlackSide(web_client("xoxb-unused", "http://127.0.0.1:9/api/"), THREAD, None, True)
    ctx = make_ctx({"create_issue": {}}, slack=side)
    decision = OutputGate().request(ctx, "create_issue", {"title": "Export 500s"})
    links = ctx.store.links_from(f"slack:{THREAD}")
    assert [(link.to_key, link.output_id) for link in links] == [("issue:2", decision.output_id)]


# -- crash points -------------------------------------------------------------------------------

WORKER = Path(__file__).with_name("crash_worker.py")
PACKAGE_ROOT = Path(factory.__file__).resolve().parents[1]
"""Where the ``factory`` this test runs on lives: the worker child imports the same one."""


@pytest.mark.parametrize(
    "point",
    [
        "output_after_intent:comment",
        "output_after_github",
        "output_after_github:comment",
        "output_after_applied",
    ],
)
def test_crash_at_each_point_then_the_repeated_request_leaves_one_comment(
    point: str, fake: FakeGitHub, store: RunStore, tmp_path: Path
) -> None:
    """A process dies (exit 9) at each crash point; asked again, the gate ends with one comment."""
    crash_log = tmp_path / "crashed"
    env = {
        **os.environ,
        CRASH_ENV: point,
        CRASH_LOG_ENV: str(crash_log),
        "FACTORYD_TEST_TOKEN": BOT_TOKEN,
        "PYTHONPATH": str(PACKAGE_ROOT),
    }
    run_id = store.create_run("crash-test")
    payload = {"body": "Working on it."}
    argv = [fake.api_url, REPO, str(store.path), run_id, "1", "comment"]
    argv += [json.dumps(payload), json.dumps({"comment": {}})]
    done = subprocess.run(
        [sys.executable, str(WORKER), *argv], env=env, capture_output=True, text=True, timeout=60
    )
    gh = Github(base_url=fake.api_url, auth=Auth.Token(BOT_TOKEN), seconds_between_writes=None)
    outputs = Outputs.model_validate({"comment": {}})
    ctx = RunContext(run_id, "crash-test", outputs, 1, gh.get_repo(REPO), store, bot_login=BOT)
    again = OutputGate().request(ctx, "comment", payload)
    assert (
        done.returncode,
        crash_log.read_text() if crash_log.exists() else "",
        again.status,
        len(fake.issue(REPO, 1).comments),
    ) == (9, f"{point}\n", "applied", 1)


# --- staged outputs (recorded as would-have, performed never) ---------------------------


def test_staged_request_is_decided_staged_with_its_row_and_notes(
    make_ctx: MakeCtx, store: RunStore, fake: FakeGitHub
) -> None:
    """A staged comment is decided staged, not a duplicate, on a new row marked staged."""
    ctx = make_ctx({"comment": {"staged": True}})
    decision = OutputGate().request(ctx, "comment", {"body": "Looked into it."})
    rows = [(r.id, r.kind, r.status) for r in store.outputs_in_scope(ctx.scope)]
    assert (decision, rows, len(fake.issue(REPO, 1).comments)) == (
        OutputDecision("comment", "staged", output_id=decision.output_id, duplicate=False),
        [(decision.output_id, "comment", "staged")],
        0,
    )


def test_staged_request_logs_output_staged_once(make_ctx: MakeCtx) -> None:
    """The first staged request logs output_staged with its row; its repeat logs nothing."""
    ctx = make_ctx({"comment": {"staged": True}})
    with capture_logs() as logs:
        first = OutputGate().request(ctx, "comment", {"body": "Looked into it."})
        OutputGate().request(ctx, "comment", {"body": "Looked into it."})
    assert _gate_lines(logs) == [
        {
            "event": "output_staged",
            "log_level": "info",
            "run_id": ctx.run_id,
            "kind": "comment",
            "output_id": first.output_id,
        }
    ]


def test_repeated_staged_request_is_a_staged_duplicate_of_the_same_row(make_ctx: MakeCtx) -> None:
    """Asking again for the same staged comment answers from its row, marked duplicate."""
    ctx = make_ctx({"comment": {"staged": True}})
    first = OutputGate().request(ctx, "comment", {"body": "Looked into it."})
    again = OutputGate().request(ctx, "comment", {"body": "Looked into it."})
    assert (again.status, again.duplicate, again.output_id) == ("staged", True, first.output_id)


def test_staged_request_whose_key_was_applied_answers_applied(
    make_ctx: MakeCtx, store: RunStore, fake: FakeGitHub
) -> None:
    """A staged repeat of a comment an earlier live attempt applied answers applied, its URL."""
    live = make_ctx({"comment": {}}, key_scope="scope-1")
    applied = OutputGate().request(live, "comment", {"body": "Looked into it."})
    staged = make_ctx({"comment": {"staged": True}}, key_scope="scope-1")
    decision = OutputGate().request(staged, "comment", {"body": "Looked into it."})
    assert (decision, len(fake.issue(REPO, 1).comments)) == (
        OutputDecision("comment", "applied", url=applied.url, output_id=applied.output_id),
        1,
    )


def test_staged_request_carries_the_prepared_notes(make_ctx: MakeCtx) -> None:
    """Notes the preparation made (a label it dropped) come back on the staged decision."""
    ctx = make_ctx({"add_labels": {"allowed": ["needs-human"], "staged": True}})
    decision = OutputGate().request(ctx, "add_labels", {"labels": ["needs-human"]})
    plain = make_ctx({"add_labels": {"allowed": ["needs-human"]}})
    live = OutputGate().request(plain, "add_labels", {"labels": ["needs-human"]})
    assert (decision.status, decision.notes) == ("staged", live.notes)


def test_staged_requests_count_against_the_quota(make_ctx: MakeCtx) -> None:
    """Staged rows count: a second distinct staged comment past max 1 is refused."""
    ctx = make_ctx({"comment": {"max": 1, "staged": True}})
    OutputGate().request(ctx, "comment", {"body": "One."})
    second = OutputGate().request(ctx, "comment", {"body": "Two."})
    assert (second.status, second.reason) == (
        "refused",
        "comment: quota reached (1 of 1 for this run)",
    )


def test_staged_decision_text_says_it_was_not_performed_with_its_notes() -> None:
    """A staged decision reads as recorded-not-performed, one note per line after it."""
    decision = OutputDecision("comment", "staged", notes=("a was cut", "b was added"))
    assert decision.text() == (
        "staged comment: recorded as would-have, not performed (staged mode)"
        "\nnote: a was cut\nnote: b was added"
    )


def test_a_single_staged_request_logs_output_staged(make_ctx: MakeCtx) -> None:
    """A first staged request, asked once, logs output_staged with its row."""
    ctx = make_ctx({"comment": {"staged": True}})
    with capture_logs() as logs:
        decision = OutputGate().request(ctx, "comment", {"body": "Looked into it."})
    assert [e["event"] for e in _gate_lines(logs)] == ["output_staged"]
    assert decision.output_id is not None


def test_staged_row_stores_the_prepared_request(make_ctx: MakeCtx, store: RunStore) -> None:
    """The staged row keeps what would have been written: its target and payload."""
    ctx = make_ctx({"comment": {"staged": True}})
    OutputGate().request(ctx, "comment", {"body": "Looked into it."})
    [row] = store.outputs_in_scope(ctx.scope)
    expected = prepare("comment", CommentRequest(body="Looked into it."), ctx).to_stored()
    assert row.request == expected


def test_staged_decision_carries_a_truncation_note(make_ctx: MakeCtx) -> None:
    """A staged comment over the body cap comes back staged with the truncation note."""
    ctx = make_ctx({"comment": {"staged": True}})
    decision = OutputGate().request(ctx, "comment", {"body": "x" * (BODY_CAP + 1)})
    assert (decision.status, decision.notes) == (
        "staged",
        (f"the body was truncated to {BODY_CAP} characters",),
    )
