"""The session loop against FakeAnthropic (real HTTP), AnthropicModel and the bwrap sandbox."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from factory.agent.budget import WRAP_UP_NOTICE
from factory.agent.prompt import count_breakpoints
from factory.agent.session import CONTINUE_NOTICE, Session
from factory.errors import SpendLimitReached, UnknownTool
from factory.store import RunStore, StepRecord
from factory.testing.fake_anthropic import FakeAnthropic, FakeReply

MakeSession = Callable[..., tuple[Session, RunStore]]
SYSTEM = ["You work in a software factory. " * 40, "Build what the issue asks. " * 20]
CONTEXT = '<subject trust="maintainers" author="ann">\nAdd a greet() function.\n</subject>'

EDITOR = "str_replace_based_edit_tool"


def bash_responder(fake: FakeAnthropic, on_call: Any = None) -> None:
    """Answer every request with a new bash command (never the same input twice)."""

    def respond(body: dict[str, Any]) -> FakeReply:
        if on_call is not None:
            on_call()
        n = len(fake.requests)
        return FakeReply([{"type": "tool_use", "name": "bash", "input": {"command": f"echo {n}"}}])

    fake.responder = respond


def recorded(store: RunStore, session: Session) -> list[StepRecord]:
    """Return the steps the session recorded in the store, in order."""
    return store.steps(session.run_id)


def kinds(store: RunStore, session: Session) -> list[str]:
    """Return the kinds of the steps the session recorded, in order."""
    return [s.kind for s in recorded(store, session)]


def last_user_texts(body: dict[str, Any]) -> list[str]:
    """Return the text blocks of a request's newest message."""
    return [b["text"] for b in body["messages"][-1]["content"] if b.get("type") == "text"]


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the tool_result blocks of a request's newest message."""
    return [b for b in body["messages"][-1]["content"] if b.get("type") == "tool_result"]


def script_build(fake: FakeAnthropic) -> None:
    """Queue a session that edits greet.py, adds a file, runs the tests and submits."""
    fake.enqueue_tool_use(EDITOR, {"command": "view", "path": "greet.py"})
    fake.enqueue_tool_use(
        EDITOR,
        {"command": "str_replace", "path": "greet.py", "old_str": '"hi "', "new_str": '"hello "'},
    )
    fake.enqueue_tool_use(
        EDITOR, {"command": "create", "path": "NOTES.md", "file_text": "greet says hello\n"}
    )
    fake.enqueue_tool_use("bash", {"command": "python3 -m unittest -q 2>&1"})
    fake.enqueue_text("Done: greet() now says hello and the tests pass.")


def test_scripted_session_edits_runs_tests_and_submits(
    fake: FakeAnthropic, make_session: MakeSession, workspace: Path
) -> None:
    """An editor + bash session ends succeeded, with the edit on disk and tests passing."""
    script_build(fake)
    session, _ = make_session()
    result = session.run(SYSTEM, CONTEXT)
    bash_result = tool_results(fake.requests[4])[0]
    assert (
        result.status,
        result.turns,
        (workspace / "greet.py").read_text().count('"hello "'),
        (workspace / "NOTES.md").read_text(),
        "[exit code: 0]" in bash_result["content"],
        result.final_text,
    ) == (
        "succeeded",
        5,
        1,
        "greet says hello\n",
        True,
        "Done: greet() now says hello and the tests pass.",
    )


def test_scripted_session_records_steps_in_order(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """Steps are recorded as request, response, tool call, tool result … and a final stop."""
    script_build(fake)
    session, store = make_session()
    session.run(SYSTEM, CONTEXT)
    turn = ["model_request", "model_response", "tool_call", "tool_result"]
    assert kinds(store, session) == turn * 4 + ["model_request", "model_response", "stop"]


def test_scripted_session_steps_are_in_the_run_store_with_tokens_and_cost(
    fake: FakeAnthropic, make_session: MakeSession, tmp_path: Path
) -> None:
    """With RunStore as recorder, the run's steps are stored in order and totals add up."""
    script_build(fake)
    with RunStore.open(tmp_path / "factory.db") as store:
        run_id = store.create_run("builder")
        session, _ = make_session(recorder=store, run_id=run_id)
        result = session.run(SYSTEM, CONTEXT)
        steps = store.steps(run_id)
        run = store.get_run(run_id)
    responses = [s for s in steps if s.kind == "model_response"]
    turn = ["model_request", "model_response", "tool_call", "tool_result"]
    assert [s.kind for s in steps] == turn * 4 + ["model_request", "model_response", "stop"]
    assert [s.seq for s in steps] == list(range(1, 20))
    assert all(s.output_tokens > 0 and s.cost_usd > 0 for s in responses)
    assert run.turns == 5
    assert run.cost_usd == pytest.approx(result.cost_usd)
    assert run.cache_read_tokens == result.usage.cache_read_input_tokens > 0


def test_scripted_session_records_tokens_and_cost(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """Every model_response step carries tokens and a cost, and they add up to the result."""
    script_build(fake)
    session, store = make_session()
    result = session.run(SYSTEM, CONTEXT)
    responses = [s for s in recorded(store, session) if s.kind == "model_response"]
    assert all(s.output_tokens > 0 for s in responses)
    assert all(s.cost_usd > 0 for s in responses)
    assert sum(s.cost_usd for s in responses) == pytest.approx(result.cost_usd)
    assert result.usage.cache_read_input_tokens > 0


def test_turn_limit_gives_one_wrap_up_turn_then_fails(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """With 3 turns the third request carries the notice once, then the run fails."""
    bash_responder(fake)
    session, store = make_session(max_turns=3)
    result = session.run(SYSTEM, CONTEXT)
    notices = [last_user_texts(body).count(WRAP_UP_NOTICE) for body in fake.requests]
    assert (
        result.status,
        result.stop_kind,
        result.turns,
        notices,
        kinds(store, session).count("notice"),
    ) == (
        "failed",
        "LimitsExceeded",
        3,
        [0, 0, 1],
        1,
    )


def test_wrap_up_turn_that_submits_succeeds(fake: FakeAnthropic, make_session: MakeSession) -> None:
    """A model that finishes on its wrap-up turn ends the run succeeded."""
    fake.enqueue_tool_use("bash", {"command": "echo 1"})
    fake.enqueue_text("summary")
    session, _ = make_session(max_turns=2)
    assert session.run(SYSTEM, CONTEXT).status == "succeeded"


def test_usd_limit_wraps_up_then_fails(fake: FakeAnthropic, make_session: MakeSession) -> None:
    """At $1 a call and $3.50 allowed, call 4 is the wrap-up and the run then fails."""
    bash_responder(fake)
    session, store = make_session(run_usd=3.5)
    session.cost_fn = lambda usage: 1.0
    result = session.run(SYSTEM, CONTEXT)
    assert (result.stop_kind, result.turns, kinds(store, session).count("notice")) == (
        "LimitsExceeded",
        4,
        1,
    )
    assert "USD" in result.stop_reason


def test_timeout_wraps_up_then_fails(fake: FakeAnthropic, make_session: MakeSession) -> None:
    """With 30 s per call on an injected clock and 100 s allowed, call 4 wraps up, then it fails."""
    now = [0.0]

    def tick() -> None:
        now[0] += 30

    bash_responder(fake, on_call=tick)
    session, _ = make_session(timeout_s=100.0, clock=lambda: now[0])
    result = session.run(SYSTEM, CONTEXT)
    assert (result.stop_kind, result.turns, "timeout" in result.stop_reason) == (
        "LimitsExceeded",
        4,
        True,
    )
    assert last_user_texts(fake.requests[3]) == [WRAP_UP_NOTICE]


def test_repeated_identical_tool_call_is_a_loop(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """The third identical bash call in a row stops the run with LoopDetected, unrun."""
    for _ in range(3):
        fake.enqueue_tool_use("bash", {"command": "ls"})
    session, store = make_session()
    result = session.run(SYSTEM, CONTEXT)
    assert (result.status, result.stop_kind, kinds(store, session).count("tool_result")) == (
        "failed",
        "LoopDetected",
        2,
    )


def test_editor_failure_goes_back_as_is_error(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """A failed edit is answered as an is_error tool_result and the session goes on."""
    fake.enqueue_tool_use(EDITOR, {"command": "str_replace", "path": "greet.py", "old_str": "zz"})
    fake.enqueue_text("gave up")
    session, _ = make_session()
    result = session.run(SYSTEM, CONTEXT)
    assert (result.status, tool_results(fake.requests[1])[0]["is_error"]) == ("succeeded", True)


def test_unknown_tool_from_the_model_goes_back_as_is_error(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """A tool the session does not offer is answered as is_error, naming the offered tools."""
    fake.enqueue_tool_use("github_read", {"issue": 1})
    fake.enqueue_text("ok")
    session, _ = make_session()
    session.run(SYSTEM, CONTEXT)
    result = tool_results(fake.requests[1])[0]
    assert (result["is_error"], "bash" in result["content"]) == (True, True)


def test_unknown_tool_in_config_is_refused(make_session: MakeSession) -> None:
    """A config naming a tool the registry lacks raises UnknownTool."""
    with pytest.raises(UnknownTool, match="github_read"):
        make_session(tools=("bash", "github_read"))


def test_cancel_event_stops_before_the_tool_runs(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """A cancel during the model call ends the run interrupted without running the tool."""
    cancel = threading.Event()
    bash_responder(fake, on_call=cancel.set)
    session, store = make_session(cancel_event=cancel)
    result = session.run(SYSTEM, CONTEXT)
    assert (result.status, result.stop_kind, "tool_call" in kinds(store, session)) == (
        "interrupted",
        "Cancelled",
        False,
    )


def test_model_error_rises_and_the_stop_step_is_recorded(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """A spend-limit refusal rises, and the trajectory still ends with a stop step."""
    fake.enqueue_spend_limit()
    session, store = make_session()
    with pytest.raises(SpendLimitReached):
        session.run(SYSTEM, CONTEXT)
    assert recorded(store, session)[-1].payload["kind"] == "SpendLimitReached"


def test_twenty_turns_read_at_least_85_percent_of_input_from_cache(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """After turn 1, at least 85% of input tokens are cache reads (FakeAnthropic's accounting)."""
    bash_responder(fake)
    session, store = make_session(max_turns=20, soft_fraction=1.0)
    session.run(SYSTEM, CONTEXT)
    later = [s for s in recorded(store, session) if s.kind == "model_response"][1:]
    read = sum(s.cache_read_tokens for s in later)
    total = sum(s.input_tokens + s.cache_read_tokens + s.cache_write_tokens for s in later)
    assert (len(later), read / total >= 0.85) == (19, True)


def test_no_request_carries_more_than_four_breakpoints(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """Every request the API received had at most four cache_control markers."""
    bash_responder(fake)
    session, _ = make_session(max_turns=8)
    session.run(SYSTEM, CONTEXT)
    assert max(count_breakpoints(body) for body in fake.requests) == 4


def test_reply_cut_at_max_tokens_is_continued(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """A reply cut off at max_tokens gets a continue notice instead of ending the run."""
    fake.enqueue_text("half a thou", stop_reason="max_tokens")
    fake.enqueue_text("ght, done")
    session, _ = make_session()
    result = session.run(SYSTEM, CONTEXT)
    assert (result.turns, last_user_texts(fake.requests[1])) == (2, [CONTINUE_NOTICE])


def test_one_hour_prefix_ttl_is_accepted_by_the_api(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """With prefix_ttl="1h" the requests are valid and the run succeeds."""
    fake.enqueue_tool_use("bash", {"command": "true"})
    fake.enqueue_text("ok")
    session, _ = make_session(prefix_ttl="1h")
    assert session.run(SYSTEM, CONTEXT).status == "succeeded"


def test_pause_turn_sends_the_paused_content_back_and_continues(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """After pause_turn the next request ends with the paused assistant content, as it was."""
    fake.enqueue_pause_turn("Searching the code base first")
    fake.enqueue_text("done")
    session, _ = make_session()
    result = session.run(SYSTEM, CONTEXT)
    last = fake.requests[1]["messages"][-1]
    assert (result.status, result.turns, last["role"], [b["text"] for b in last["content"]]) == (
        "succeeded",
        2,
        "assistant",
        ["Searching the code base first"],
    )


def test_refusal_ends_the_run_failed_as_refused(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """A refusal stops the session at once: failed, stop kind Refused, no further request."""
    fake.enqueue_refusal()
    fake.enqueue_text("never asked for")
    session, _ = make_session()
    result = session.run(SYSTEM, CONTEXT)
    assert (result.status, result.stop_kind, result.turns, len(fake.requests)) == (
        "failed",
        "Refused",
        1,
        1,
    )


def test_refusal_is_recorded_as_the_stop_step(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """The run's stop step names the refusal as its kind and reason."""
    fake.enqueue_refusal()
    session, store = make_session()
    session.run(SYSTEM, CONTEXT)
    stop = recorded(store, session)[-1].payload
    assert (stop["kind"], "refusal" in stop["reason"]) == ("Refused", True)


def test_refusal_does_not_run_the_tool_calls_it_holds(
    fake: FakeAnthropic, make_session: MakeSession, workspace: Path
) -> None:
    """A tool_use block in a refused reply is never run."""
    call = {"type": "tool_use", "name": "bash", "input": {"command": "touch refused.txt"}}
    fake.enqueue(FakeReply([{"type": "text", "text": "Sure"}, call], stop_reason="refusal"))
    session, store = make_session()
    session.run(SYSTEM, CONTEXT)
    assert ("tool_call" in kinds(store, session), (workspace / "refused.txt").exists()) == (
        False,
        False,
    )


def test_context_window_exceeded_ends_the_run_with_its_reason(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """model_context_window_exceeded stops the session failed as ContextWindowExceeded."""
    fake.enqueue_context_window_exceeded()
    fake.enqueue_text("never asked for")
    session, _ = make_session()
    result = session.run(SYSTEM, CONTEXT)
    assert (result.status, result.stop_kind, "context window" in result.stop_reason) == (
        "failed",
        "ContextWindowExceeded",
        True,
    )


def test_tool_call_cut_at_max_tokens_is_not_run(
    fake: FakeAnthropic, make_session: MakeSession, workspace: Path
) -> None:
    """A tool_use cut off at max_tokens is answered as an error and the reply is continued."""
    call = {"type": "tool_use", "name": "bash", "input": {"command": "touch cut.txt"}}
    fake.enqueue(FakeReply([call], stop_reason="max_tokens"))
    fake.enqueue_text("done")
    session, _ = make_session()
    result = session.run(SYSTEM, CONTEXT)
    answer = tool_results(fake.requests[1])
    assert (
        result.status,
        (workspace / "cut.txt").exists(),
        [r["is_error"] for r in answer],
        last_user_texts(fake.requests[1]),
    ) == ("succeeded", False, [True], [CONTINUE_NOTICE])


def test_enforced_spend_limit_stops_the_session_after_one_request(
    fake: FakeAnthropic, make_session: MakeSession
) -> None:
    """The monthly spend cap rises as SpendLimitReached, recorded as the stop, never resent."""
    for _ in range(3):
        fake.enqueue_enforced_spend_limit()
    session, store = make_session()
    with pytest.raises(SpendLimitReached):
        session.run(SYSTEM, CONTEXT)
    assert (recorded(store, session)[-1].payload["kind"], len(fake.calls)) == (
        "SpendLimitReached",
        1,
    )
