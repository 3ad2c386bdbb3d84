"""Recorded runs for the auditor's tests: runs with tool calls and results as a session writes
them (a ``tool_call`` step, then its ``tool_result`` with the same id), usage and a stop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from factory.interfaces import Usage
from factory.store import RunStore

FAILING_INPUT = {"command": "make test"}
FAILING_ERROR = "make: *** No rule to make target 'test'.  Stop."


@dataclass(frozen=True)
class Call:
    """One tool call of a recorded run and what it answered."""

    name: str
    input: dict[str, object]
    result: str
    is_error: bool = False


def record_run(
    store: RunStore,
    automation: str = "builder",
    *,
    content_hash: str = "hash-one",
    calls: Sequence[Call] = (),
    status: str = "succeeded",
    stop_kind: str = "Submitted",
    stop_reason: str | None = None,
    cost_usd: float = 0.25,
    turns: int = 3,
) -> str:
    """Record one finished run of ``automation`` with ``calls``; return its id."""
    run_id = store.create_run(automation, subject_key="issue:1")
    store.start_run(run_id, "test-holder", version=(content_hash, f"name: {automation}\n"))
    store.add_step(run_id, "model_response", {"response": {}}, text="Let me look.")
    for index, call in enumerate(calls):
        tool_id = f"toolu_{index:02d}"
        store.add_step(
            run_id,
            "tool_call",
            {"id": tool_id, "name": call.name, "input": call.input},
            text=f"{call.name} {call.input}",
        )
        store.add_step(
            run_id,
            "tool_result",
            {
                "tool_use_id": tool_id,
                "name": call.name,
                "content": call.result,
                "is_error": call.is_error,
            },
            text=call.result,
        )
    store.add_usage(run_id, Usage(input_tokens=100, output_tokens=10), cost_usd, turns=turns)
    store.add_step(
        run_id,
        "stop",
        {"status": status, "kind": stop_kind, "reason": stop_reason or "done", "turns": turns},
        text=stop_reason or "done",
    )
    store.finish_run(run_id, status, stop_reason=stop_reason)
    return run_id


def failing_make_test() -> Call:
    """The call that fails the same way in every run of the tests' builder."""
    return Call("bash", dict(FAILING_INPUT), FAILING_ERROR, is_error=True)
