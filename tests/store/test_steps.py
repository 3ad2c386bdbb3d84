"""Steps and usage: per-run sequence, payloads kept whole, totals that add up."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from factory.errors import RunNotFound
from factory.interfaces import Usage
from factory.store import RunStore


def test_seq_counts_from_one_per_run(store: RunStore, make_run: Callable[..., str]) -> None:
    """Each run's steps are numbered 1, 2, 3 independently of other runs."""
    a, b = make_run(), make_run()
    seqs = [
        store.add_step(a, "notice", {}),
        store.add_step(b, "notice", {}),
        store.add_step(a, "notice", {}),
    ]
    assert seqs == [1, 1, 2]


def test_steps_come_back_in_seq_order(store: RunStore, make_run: Callable[..., str]) -> None:
    """steps() lists a run's steps ordered by seq with their kinds."""
    run_id = make_run()
    for kind in ("model_request", "model_response", "tool_call", "tool_result"):
        store.add_step(run_id, kind, {"k": kind})
    assert [(s.seq, s.kind) for s in store.steps(run_id)] == [
        (1, "model_request"),
        (2, "model_response"),
        (3, "tool_call"),
        (4, "tool_result"),
    ]


def test_steps_after_seq_returns_only_newer(store: RunStore, make_run: Callable[..., str]) -> None:
    """steps(after_seq=n) returns only steps with seq > n (live tailing)."""
    run_id = make_run()
    for _ in range(3):
        store.add_step(run_id, "notice", {})
    assert [s.seq for s in store.steps(run_id, after_seq=1)] == [2, 3]


def test_step_keeps_payload_text_and_numbers(store: RunStore, make_run: Callable[..., str]) -> None:
    """A step's full JSON payload, text, tokens, cost and latency read back unchanged."""
    run_id = make_run()
    payload = {"content": [{"type": "text", "text": "héllo"}], "usage": {"input_tokens": 5}}
    store.add_step(
        run_id,
        "model_response",
        payload,
        text="héllo",
        input_tokens=5,
        output_tokens=2,
        cache_read_tokens=3,
        cache_write_tokens=4,
        cost_usd=0.01,
        latency_ms=12.5,
    )
    [s] = store.steps(run_id)
    assert (
        s.payload,
        s.text,
        s.input_tokens,
        s.output_tokens,
        s.cache_read_tokens,
        s.cache_write_tokens,
        s.cost_usd,
        s.latency_ms,
    ) == (payload, "héllo", 5, 2, 3, 4, 0.01, 12.5)


def test_add_step_to_unknown_run_raises(store: RunStore) -> None:
    """add_step on a missing run raises RunNotFound naming it."""
    with pytest.raises(RunNotFound, match="ghost"):
        store.add_step("ghost", "notice", {})


def test_add_step_does_not_touch_run_totals(store: RunStore, make_run: Callable[..., str]) -> None:
    """A step's own tokens and cost do not change the run's totals."""
    run_id = make_run()
    store.add_step(run_id, "model_response", {}, input_tokens=10, cost_usd=1.0)
    run = store.get_run(run_id)
    assert (run.input_tokens, run.cost_usd) == (0, 0.0)


def test_usage_accumulates_on_the_run(store: RunStore, make_run: Callable[..., str]) -> None:
    """Two add_usage calls sum tokens, cache tokens, cost and turns on the run."""
    run_id = make_run()
    store.add_usage(
        run_id, Usage(100, 10, cache_creation_input_tokens=50, cache_read_input_tokens=0), 0.25
    )
    store.add_usage(
        run_id, Usage(5, 20, cache_creation_input_tokens=1, cache_read_input_tokens=150), 0.5
    )
    run = store.get_run(run_id)
    assert (
        run.input_tokens,
        run.output_tokens,
        run.cache_write_tokens,
        run.cache_read_tokens,
        run.cost_usd,
        run.turns,
    ) == (105, 30, 51, 150, 0.75, 2)


def test_add_usage_to_unknown_run_raises(store: RunStore) -> None:
    """add_usage on a missing run raises RunNotFound."""
    with pytest.raises(RunNotFound):
        store.add_usage("ghost", Usage(1, 1), 0.1)
