"""Budgets of one agent session: turns, USD, wall time, and repeated tool calls.

The session asks ``Budget.check()`` before every model call. Below the soft limit
(``soft_fraction`` of any budget) it answers ``False``; at or past it, the session gets
exactly one wrap-up turn (``True`` once). The wrap-up also comes early when the next
turn, costing and lasting as long as the previous one, would cross the hard limit. A hard
limit crossed, or any call after the wrap-up turn, raises ``LimitsExceeded``; a single call
that jumps straight past a hard limit gets no wrap-up turn (it would only cross it further).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from factory.errors import LimitsExceeded, LoopDetected

WRAP_UP_NOTICE = (
    "Budget nearly spent: this is your last turn. Finish now: summarize what you did "
    "and what is left, and request any outputs now. Further tool calls will not run."
)


class Budget:
    """Counts turns, spend and time of one session and says when to wrap up or stop."""

    def __init__(
        self,
        *,
        run_id: str,
        max_turns: int,
        run_usd: float,
        timeout_s: float,
        soft_fraction: float = 0.9,
        loop_repeat_limit: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Check the limits; raise ValueError with a plain message when one makes no sense."""
        if max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        if run_usd <= 0 or timeout_s <= 0:
            raise ValueError(f"run_usd and timeout_s must be positive, got {run_usd}, {timeout_s}")
        if not 0 < soft_fraction <= 1:
            raise ValueError(f"soft_fraction must be in (0, 1], got {soft_fraction}")
        if loop_repeat_limit < 2:
            raise ValueError(f"loop_repeat_limit must be at least 2, got {loop_repeat_limit}")
        self.run_id = run_id
        self.max_turns = max_turns
        self.run_usd = run_usd
        self.timeout_s = timeout_s
        self.soft_fraction = soft_fraction
        self.loop_repeat_limit = loop_repeat_limit
        self._clock = clock
        self._started = clock()
        self.turns = 0
        self.cost_usd = 0.0
        self.wrap_up_given = False
        self._last_cost = 0.0
        self._last_check = self._started
        self._turn_s = 0.0
        self._last_call: tuple[str, str] | None = None
        self._repeats = 0

    def elapsed_s(self) -> float:
        """Return the seconds since the budget was created (by the injected clock)."""
        return self._clock() - self._started

    def check(self) -> bool:
        """Check before a model call; return True when this call is the wrap-up turn.

        Raises LimitsExceeded when a hard limit is crossed or the wrap-up turn was used.
        """
        now = self._clock()
        elapsed = now - self._started
        self._turn_s, self._last_check = now - self._last_check, now
        if self.turns >= self.max_turns:
            self._stop(f"turn limit reached ({self.turns}/{self.max_turns} turns)")
        if self.cost_usd >= self.run_usd:
            self._stop(f"USD limit reached (${self.cost_usd:.4f} of ${self.run_usd:.2f})")
        if elapsed >= self.timeout_s:
            self._stop(f"timeout reached ({elapsed:.0f}s of {self.timeout_s:.0f}s)")
        if self.wrap_up_given:
            self._stop(f"budget nearly spent and the wrap-up turn was used ({self._summary()})")
        soft_turns = min(math.ceil(self.soft_fraction * self.max_turns), self.max_turns - 1)
        soft = (
            self.turns >= soft_turns
            or self.cost_usd >= self.soft_fraction * self.run_usd
            or self.cost_usd + self._last_cost >= self.run_usd
            or elapsed >= self.soft_fraction * self.timeout_s
            or elapsed + self._turn_s >= self.timeout_s
        )
        if soft:
            self.wrap_up_given = True
        return soft

    def add_call(self, cost_usd: float) -> None:
        """Count one model call that cost ``cost_usd``."""
        self.turns += 1
        self.cost_usd += cost_usd
        self._last_cost = cost_usd

    def note_tool_call(self, name: str, tool_input: Mapping[str, Any]) -> None:
        """Count one tool call; raise LoopDetected on the N-th identical call in a row."""
        key = (name, json.dumps(tool_input, sort_keys=True, default=str))
        self._repeats = self._repeats + 1 if key == self._last_call else 1
        self._last_call = key
        if self._repeats >= self.loop_repeat_limit:
            raise LoopDetected(
                f"run {self.run_id}: tool {name!r} called {self._repeats} times in a row "
                "with the same input"
            )

    def _summary(self) -> str:
        return (
            f"{self.turns}/{self.max_turns} turns, ${self.cost_usd:.4f} of ${self.run_usd:.2f}, "
            f"{self.elapsed_s():.0f}s of {self.timeout_s:.0f}s"
        )

    def _stop(self, reason: str) -> None:
        raise LimitsExceeded(f"run {self.run_id}: {reason}")
