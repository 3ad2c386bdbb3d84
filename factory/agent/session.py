"""The agent session: our own loop of model calls and tool calls, with budgets and a record.

One turn: check cancel and budget (maybe add the wrap-up notice) → build the request
(``prompt.build_request``) → record ``model_request`` → ``Model.create`` → record
``model_response`` with tokens and cost → run each tool_use (``tool_call`` and
``tool_result`` steps) → next turn. A reply without tool use ends the session
(``Submitted``). Every stop is a ``SessionStop`` from ``factory.errors``; the final
``stop`` step is written in ``finally``, also when an unexpected exception rises.

The reply's stop reason decides what follows: ``tool_use`` runs the tools; ``pause_turn``
sends the paused assistant content straight back so the model resumes its turn;
``max_tokens`` asks it to continue (a tool call cut off mid-input is answered as an error,
never run); ``refusal`` ends the run as ``Refused`` and ``model_context_window_exceeded`` as
``ContextWindowExceeded`` — in both cases any tool_use blocks of that reply are not run.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from factory.agent.budget import WRAP_UP_NOTICE, Budget
from factory.agent.editor_tool import EditorTool
from factory.agent.prompt import build_request
from factory.agent.recorder import Recorder
from factory.agent.tools import BashTool, SandboxContext, Tool, ToolRegistry, ToolResult
from factory.crashpoints import crashpoint
from factory.errors import Cancelled, ContextWindowExceeded, Refused, SessionStop, Submitted
from factory.interfaces import Model, ModelReply, Network, Sandbox, SandboxLimits, Usage

log = structlog.get_logger(__name__)

CONTINUE_NOTICE = "Your reply was cut off at max_tokens. Continue where you stopped."
CUT_TOOL_CALL = (
    "Not run: this tool call was cut off at max_tokens before its input was complete. "
    "Send it again in full."
)


@dataclass(frozen=True)
class SessionConfig:
    """What one session may do and spend; the runner maps an Automation onto it."""

    model: str
    tools: tuple[str, ...] = ("bash", "editor")
    max_turns: int = 50
    run_usd: float = 2.0
    timeout_s: float = 1800.0
    max_tokens: int = 8192
    loop_repeat_limit: int = 3
    soft_fraction: float = 0.9
    network: Network = "none"
    limits: SandboxLimits | None = None
    cache: bool = True
    prefix_ttl: str | None = None


@dataclass
class SessionResult:
    """How a session ended and what it cost."""

    status: str
    stop_reason: str
    stop_kind: str
    turns: int
    usage: Usage
    cost_usd: float
    final_text: str


def sandbox_registry(sandbox: Sandbox, workspace: Path, config: SessionConfig) -> ToolRegistry:
    """Return a registry with the sandbox tools (``bash``, ``editor``) over ``workspace``."""
    context = SandboxContext(sandbox, workspace, config.network, config.limits)
    return ToolRegistry([BashTool(context), EditorTool(context)])


def _add_usage(total: Usage, usage: Usage) -> None:
    total.input_tokens += usage.input_tokens
    total.output_tokens += usage.output_tokens
    total.cache_creation_input_tokens += usage.cache_creation_input_tokens
    total.cache_read_input_tokens += usage.cache_read_input_tokens


def _usage_dict(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
    }


def _call_text(name: str, call: Mapping[str, Any]) -> str:
    """Return the searchable text of a tool call: a bash command as is, else its input JSON."""
    command = call["input"].get("command")
    if name == "bash" and isinstance(command, str):
        return command
    return json.dumps(call["input"], ensure_ascii=False)[:2000]


class Session:
    """One model ⇄ tools loop for one run."""

    def __init__(
        self,
        model: Model,
        tools: ToolRegistry,
        config: SessionConfig,
        recorder: Recorder,
        run_id: str,
        cost_fn: Callable[[Usage], float],
        *,
        cancel_event: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Pick the session's tools from ``tools`` by ``config.tools``.

        Raises UnknownTool when the config names a tool the registry does not have.
        """
        self.model = model
        self.config = config
        self.recorder = recorder
        self.run_id = run_id
        self.cost_fn = cost_fn
        self.cancel_event = cancel_event or threading.Event()
        self.clock = clock
        self.tools: list[Tool] = tools.select(config.tools)
        self._by_api_name = {str(t.definition()["name"]): t for t in self.tools}
        self.conversation: list[dict[str, Any]] = []
        self.usage = Usage()
        self.cost_usd = 0.0
        self.final_text = ""
        self._log = log.bind(run_id=run_id, model=config.model)

    def run(self, system_blocks: Sequence[str], context_text: str) -> SessionResult:
        """Run the loop until it stops; return how it ended.

        A ``SessionStop`` (Submitted, LimitsExceeded, LoopDetected, Cancelled…) becomes the
        result; any other exception (ModelError, SandboxUnavailable, …) is recorded in the
        ``stop`` step and rises.
        """
        budget = Budget(
            run_id=self.run_id,
            max_turns=self.config.max_turns,
            run_usd=self.config.run_usd,
            timeout_s=self.config.timeout_s,
            soft_fraction=self.config.soft_fraction,
            loop_repeat_limit=self.config.loop_repeat_limit,
            clock=self.clock,
        )
        self._log.info("session_started", tools=sorted(self._by_api_name))
        status, kind, reason = "failed", "Error", "session ended unexpectedly"
        try:
            while True:
                self._turn(budget, system_blocks, context_text)
        except SessionStop as stop:
            status, kind, reason = stop.status, type(stop).__name__, str(stop)
        except BaseException as exc:
            kind, reason = type(exc).__name__, str(exc)
            raise
        finally:
            self.recorder.add_step(
                self.run_id,
                "stop",
                {"status": status, "kind": kind, "reason": reason, "turns": budget.turns},
                text=reason,
            )
            self._log.info(
                "session_stopped",
                status=status,
                stop_kind=kind,
                turns=budget.turns,
                cost_usd=round(self.cost_usd, 6),
            )
        return SessionResult(
            status=status,
            stop_reason=reason,
            stop_kind=kind,
            turns=budget.turns,
            usage=self.usage,
            cost_usd=self.cost_usd,
            final_text=self.final_text,
        )

    def _check_cancel(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled(f"run {self.run_id}: cancelled")

    def _add_user_text(self, text: str) -> None:
        """Append ``text`` to the newest user message (or start one)."""
        block = {"type": "text", "text": text}
        if self.conversation and self.conversation[-1]["role"] == "user":
            self.conversation[-1]["content"].append(block)
        else:
            self.conversation.append({"role": "user", "content": [block]})

    def _turn(self, budget: Budget, system_blocks: Sequence[str], context_text: str) -> None:
        self._check_cancel()
        if budget.check():
            self._add_user_text(WRAP_UP_NOTICE)
            self.recorder.add_step(
                self.run_id, "notice", {"text": WRAP_UP_NOTICE}, text=WRAP_UP_NOTICE
            )
            self._log.info("wrap_up_turn", turns=budget.turns, cost_usd=budget.cost_usd)
        request = build_request(
            model=self.config.model,
            max_tokens=self.config.max_tokens,
            tools=[t.definition() for t in self.tools],
            system_blocks=system_blocks,
            context_text=context_text,
            conversation=self.conversation,
            cache=self.config.cache,
            prefix_ttl=self.config.prefix_ttl,
        )
        self.recorder.add_step(self.run_id, "model_request", request)
        reply = self.model.create(request)
        cost = self.cost_fn(reply.usage)
        budget.add_call(cost)
        texts = [str(b.get("text", "")) for b in reply.content if b.get("type") == "text"]
        self.final_text = "\n".join(t for t in texts if t)
        self._record_reply(reply, cost)
        self.conversation.append({"role": "assistant", "content": reply.content})
        self._follow(budget, reply)

    def _follow(self, budget: Budget, reply: ModelReply) -> None:
        """Act on the reply's stop reason: run tools, continue, resume, or stop the session."""
        stop = reply.stop_reason
        tool_uses = [b for b in reply.content if b.get("type") == "tool_use"]
        if stop == "refusal":
            raise Refused(f"run {self.run_id}: the model refused to continue (stop reason refusal)")
        if stop == "model_context_window_exceeded":
            raise ContextWindowExceeded(
                f"run {self.run_id}: the conversation filled the model's context window"
            )
        if stop == "pause_turn":
            # The API resumes a paused turn from the assistant content sent back as it was.
            self._log.info("model_turn_paused", turns=budget.turns)
            return
        if stop == "max_tokens":
            if tool_uses:
                self.conversation.append(
                    {"role": "user", "content": [self._cut_tool_call(b) for b in tool_uses]}
                )
            self._add_user_text(CONTINUE_NOTICE)
            return
        if tool_uses:
            results = [self._call_tool(budget, block) for block in tool_uses]
            self.conversation.append({"role": "user", "content": results})
            return
        if stop in ("end_turn", "stop_sequence", None):
            raise Submitted(f"run {self.run_id}: model ended its turn")
        raise SessionStop(f"run {self.run_id}: model stopped with {stop!r}")

    def _cut_tool_call(self, block: Mapping[str, Any]) -> dict[str, Any]:
        """Answer a tool_use cut off at max_tokens without running it."""
        payload = {
            "tool_use_id": block.get("id"),
            "name": block.get("name"),
            "content": CUT_TOOL_CALL,
            "is_error": True,
        }
        self.recorder.add_step(self.run_id, "tool_result", payload, text=CUT_TOOL_CALL)
        return {
            "type": "tool_result",
            "tool_use_id": block.get("id"),
            "content": CUT_TOOL_CALL,
            "is_error": True,
        }

    def _record_reply(self, reply: ModelReply, cost: float) -> None:
        _add_usage(self.usage, reply.usage)
        self.cost_usd += cost
        raw = reply.raw or {"content": reply.content, "stop_reason": reply.stop_reason}
        payload = {"response": raw, "usage": _usage_dict(reply.usage), "cost_usd": cost}
        self.recorder.add_step(
            self.run_id,
            "model_response",
            payload,
            text=self.final_text,
            input_tokens=reply.usage.input_tokens,
            output_tokens=reply.usage.output_tokens,
            cache_read_tokens=reply.usage.cache_read_input_tokens,
            cache_write_tokens=reply.usage.cache_creation_input_tokens,
            cost_usd=cost,
            latency_ms=reply.latency_ms,
        )
        self.recorder.add_usage(self.run_id, reply.usage, cost)
        crashpoint("session_after_model_call")

    def _call_tool(self, budget: Budget, block: Mapping[str, Any]) -> dict[str, Any]:
        """Run one tool_use block; return its tool_result block."""
        self._check_cancel()
        name = str(block.get("name"))
        tool_input = block.get("input")
        tool_input = tool_input if isinstance(tool_input, Mapping) else {}
        call = {"id": block.get("id"), "name": name, "input": dict(tool_input)}
        self.recorder.add_step(self.run_id, "tool_call", call, text=_call_text(name, call))
        budget.note_tool_call(name, tool_input)
        tool = self._by_api_name.get(name)
        started = time.monotonic()
        if tool is None:
            known = ", ".join(sorted(self._by_api_name)) or "none"
            result = ToolResult(f"unknown tool {name!r}; this session has: {known}", True)
        else:
            result = tool.run(tool_input)
        elapsed_ms = (time.monotonic() - started) * 1000
        payload: dict[str, Any] = {
            "tool_use_id": block.get("id"),
            "name": name,
            "content": result.content,
            "is_error": result.is_error,
        }
        if result.images:
            payload["images"] = [image.summary() for image in result.images]
        self.recorder.add_step(
            self.run_id, "tool_result", payload, text=result.content, latency_ms=elapsed_ms
        )
        crashpoint("session_after_tool")
        return {
            "type": "tool_result",
            "tool_use_id": block.get("id"),
            "content": result.api_content(),
            "is_error": result.is_error,
        }
