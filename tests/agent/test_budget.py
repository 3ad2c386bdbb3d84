"""Budget: turns, USD, wall time, the single wrap-up turn, loop detection, prices."""

from __future__ import annotations

from typing import Any

import pytest

from factory.agent.budget import Budget
from factory.config.harness import ModelPrice
from factory.errors import LimitsExceeded, LoopDetected
from factory.interfaces import Usage
from tests.conftest import SONNET_PRICES


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_budget(
    clock: Clock | None = None,
    *,
    max_turns: int = 100,
    run_usd: float = 100.0,
    timeout_s: float = 1000.0,
) -> Budget:
    """Return a budget with generous limits except the given ones."""
    return Budget(
        run_id="r1",
        max_turns=max_turns,
        run_usd=run_usd,
        timeout_s=timeout_s,
        clock=clock or Clock(),
    )


def checks_until_stop(budget: Budget, cost_per_call: float = 0.0) -> list[bool]:
    """Call check/add_call until LimitsExceeded; return the check answers."""
    answers: list[bool] = []
    with pytest.raises(LimitsExceeded):
        for _ in range(1000):
            answers.append(budget.check())
            budget.add_call(cost_per_call)
    return answers


def test_turn_budget_gives_one_wrap_up_turn_as_the_last_allowed_turn() -> None:
    """With 10 turns, turns 1-9 are normal, turn 10 is the wrap-up, then it stops."""
    assert checks_until_stop(make_budget(max_turns=10)) == [False] * 9 + [True]


def test_small_turn_budget_still_gets_a_wrap_up_turn() -> None:
    """With 3 turns the third one is the wrap-up turn."""
    assert checks_until_stop(make_budget(max_turns=3)) == [False, False, True]


def test_usd_budget_wraps_up_at_the_soft_fraction() -> None:
    """At $1 a call and a $10 budget, the call after $9 is spent is the wrap-up."""
    assert checks_until_stop(make_budget(run_usd=10.0), cost_per_call=1.0) == [False] * 9 + [True]


def test_usd_wraps_up_early_when_the_next_call_would_cross() -> None:
    """At $4 a call and a $10 budget, the third call is the wrap-up ($8 + $4 > $10)."""
    assert checks_until_stop(make_budget(run_usd=10.0), cost_per_call=4.0) == [False, False, True]


def test_timeout_wraps_up_early_when_the_next_turn_would_cross() -> None:
    """With 40 s turns and 100 s allowed, the third turn (at 80 s) is the wrap-up."""
    clock = Clock()
    budget = make_budget(clock, timeout_s=100.0)
    answers = []
    for _ in range(3):
        answers.append(budget.check())
        clock.now += 40
    assert answers == [False, False, True]


def test_usd_jump_past_the_hard_limit_stops_without_wrap_up() -> None:
    """A call that spends past the hard limit at once gets no wrap-up turn."""
    budget = make_budget(run_usd=1.0)
    budget.check()
    budget.add_call(5.0)
    with pytest.raises(LimitsExceeded, match=r"USD limit"):
        budget.check()


def test_timeout_wraps_up_then_stops() -> None:
    """Past 90% of the time the next call is the wrap-up; past the timeout it stops."""
    clock = Clock()
    budget = make_budget(clock, timeout_s=100.0)
    clock.now += 95
    wrap = budget.check()
    clock.now += 10
    with pytest.raises(LimitsExceeded, match="timeout"):
        budget.check()
    assert wrap is True


def test_loop_detected_on_third_identical_call() -> None:
    """The third identical tool call in a row raises LoopDetected."""
    budget = make_budget()
    budget.note_tool_call("bash", {"command": "ls"})
    budget.note_tool_call("bash", {"command": "ls"})
    with pytest.raises(LoopDetected, match="r1"):
        budget.note_tool_call("bash", {"command": "ls"})


def test_different_call_in_between_resets_the_loop_count() -> None:
    """A different call breaks the run of identical calls."""
    budget = make_budget()
    for command in ["ls", "ls", "pwd", "ls", "ls"]:
        budget.note_tool_call("bash", {"command": command})
    assert budget.turns == 0


def test_prices_cost_counts_cache_rates() -> None:
    """Cost uses the input, output, cache write and cache read rates per million tokens."""
    prices = ModelPrice(input=1.0, output=2.0, cache_write=3.0, cache_read=4.0)
    usage = Usage(1_000_000, 1_000_000, 1_000_000, 1_000_000)
    assert prices.cost_usd(usage) == 10.0


def test_cache_reads_cost_a_tenth_of_input_on_sonnet_prices() -> None:
    """Reading a million tokens from cache costs 10% of sending them fresh."""
    read = SONNET_PRICES.cost_usd(Usage(cache_read_input_tokens=1_000_000))
    fresh = SONNET_PRICES.cost_usd(Usage(input_tokens=1_000_000))
    assert read == pytest.approx(fresh / 10)


@pytest.mark.parametrize(
    "overrides",
    [{"max_turns": 0}, {"run_usd": 0.0}, {"timeout_s": -1.0}],
    ids=["turns", "usd", "timeout"],
)
def test_nonsense_limits_are_a_value_error(overrides: dict[str, Any]) -> None:
    """Limits that make no sense are refused with ValueError."""
    with pytest.raises(ValueError):
        make_budget(**overrides)
