"""The Protocols that pick implementations: Model, Sandbox, Source, Executor.

Implementations are chosen by plain dicts next to them (e.g. ``sandbox.BACKENDS``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

Network = Literal["none", "full", "allowlist"]


@dataclass(frozen=True)
class ExecResult:
    """What one command in a sandbox produced."""

    exit_code: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    killed_reason: str | None = None
    """Why the command was killed, if it was: "timeout", "memory", "output"."""


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one sandboxed command."""

    timeout_s: float = 120.0
    memory_mb: int = 2048
    max_processes: int = 256
    max_output_bytes: int = 4 * 1024 * 1024


class Sandbox(Protocol):
    """Runs commands for an agent over one workspace directory, holding no secrets."""

    name: str

    def exec(
        self,
        argv: Sequence[str],
        *,
        workspace: Path,
        network: Network = "none",
        limits: SandboxLimits | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Run ``argv`` with ``workspace`` as cwd and only writable path.

        Returns the result even when the command fails or times out.
        Raises SandboxUnavailable if the backend cannot start at all.
        """
        ...

    def kill_all(self) -> None:
        """Kill every command this sandbox still runs (used at shutdown)."""
        ...

    def open_run(self, workspace: Path) -> None:
        """Start a run over ``workspace``: what its commands can share is made once, here."""
        ...

    def close_run(self, workspace: Path) -> None:
        """End the run over ``workspace``: kill what is left of it, remove what it shared."""
        ...


@dataclass
class Usage:
    """Token counts of one model call, as the API reports them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


@dataclass
class ModelReply:
    """One model response: its content blocks, stop reason and usage, plus the raw JSON."""

    content: list[dict[str, Any]]
    stop_reason: str | None
    usage: Usage
    raw: dict[str, Any] = field(default_factory=dict)
    latency_ms: float = 0.0


class Model(Protocol):
    """A Messages-API-shaped model: one request in, one reply out."""

    def create(self, request: Mapping[str, Any]) -> ModelReply:
        """Send one Messages API request body; return the reply.

        Raises ModelError (retryable) or SpendLimitReached (not retryable).
        """
        ...
