"""Where a session writes its steps as they happen: the ``Recorder`` protocol.

``factory.store.RunStore`` satisfies it; ``MemoryRecorder`` keeps steps in lists (tests,
dry runs). The signatures mirror ``RunStore.add_step`` / ``RunStore.add_usage``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class RecordedStep:
    """One step kept by MemoryRecorder."""

    run_id: str
    kind: str
    payload: Any
    text: str
    usage: Usage
    """The step's own tokens (zero for steps that are not model responses)."""
    cost_usd: float
    latency_ms: float | None


@dataclass
class MemoryRecorder:
    """A Recorder that keeps everything in lists."""

    steps: list[RecordedStep] = field(default_factory=list)
    usage: list[tuple[str, Usage, float]] = field(default_factory=list)

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
    ) -> int:
        """Append one step; return its 1-based sequence number."""
        usage = Usage(input_tokens, output_tokens, cache_write_tokens, cache_read_tokens)
        self.steps.append(RecordedStep(run_id, kind, payload, text, usage, cost_usd, latency_ms))
        return len(self.steps)

    def add_usage(self, run_id: str, usage: Usage, cost_usd: float) -> None:
        """Append one model call's usage."""
        self.usage.append((run_id, usage, cost_usd))

    def kinds(self) -> list[str]:
        """Return the kinds of the recorded steps, in order."""
        return [s.kind for s in self.steps]
