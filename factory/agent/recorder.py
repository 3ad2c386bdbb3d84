"""Where a session writes its steps as they happen: the ``Recorder`` protocol.

``factory.store.RunStore`` satisfies it (tests use a real one in ``tmp_path``). The
signatures mirror ``RunStore.add_step`` / ``RunStore.add_usage``.
"""

from __future__ import annotations

from typing import Any, Protocol

from factory.interfaces import Usage


class Recorder(Protocol):
    """Receives a session's steps and model usage, in order, as they happen."""

    def add_step(
        self,
        run_id: str,
        kind: str,
        payload: Any,
        *,
        text: str = "",
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        cost_usd: float = 0.0,
        latency_ms: float | None = None,
    ) -> object:
        """Append one step (``model_request``, ``tool_call``, ``notice``, ``stop``, …)."""
        ...

    def add_usage(self, run_id: str, usage: Usage, cost_usd: float) -> object:
        """Add one model call's tokens and cost (one turn) to the run's totals."""
        ...
