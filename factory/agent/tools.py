"""Tools an agent session can call: the registry, the bash tool, and daemon-side tools.

A ``Tool`` has a registry ``name`` (what an automation lists under ``tools:``), an API
``definition`` (whose ``"name"`` is what the model calls), and ``run(input)``. Tools never
raise for bad input or failed commands: they answer ``ToolResult(is_error=True)`` so the
model can correct itself. Only a sandbox that cannot start at all (SandboxUnavailable)
rises, so the run fails closed.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from factory.errors import SandboxError, UnknownTool
from factory.interfaces import Network, Sandbox, SandboxLimits

OUTPUT_CAP = 10_000


IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""Image media types the Messages API takes in an image block."""


@dataclass(frozen=True)
class ImageBlock:
    """An image a daemon-side tool hands the model (sent as a base64 ``image`` block)."""

    media_type: str
    """One of IMAGE_TYPES."""
    data: bytes
    """The image's bytes."""
    name: str = ""
    """What the image is called where it came from (a file name), for the record."""

    def __post_init__(self) -> None:
        if self.media_type not in IMAGE_TYPES:
            raise ValueError(f"image type {self.media_type!r} is not one of {sorted(IMAGE_TYPES)}")

    def api_block(self) -> dict[str, Any]:
        """Return the Messages API ``image`` content block."""
        data = base64.b64encode(self.data).decode("ascii")
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": self.media_type, "data": data},
        }

    def summary(self) -> dict[str, Any]:
        """Return what a step records of the image: type, name, size and sha256 (no bytes)."""
        digest = hashlib.sha256(self.data).hexdigest()
        return {
            "media_type": self.media_type,
            "name": self.name,
            "bytes": len(self.data),
            "sha256": digest,
        }


@dataclass(frozen=True)
class ToolResult:
    """What one tool call answers the model: text, and images for daemon-side tools."""

    content: str
    is_error: bool = False
    images: tuple[ImageBlock, ...] = ()
    """Images sent after the text in the tool_result's content list."""

    def api_content(self) -> str | list[dict[str, Any]]:
        """Return the tool_result ``content``: the text, or text then image blocks."""
        text = self.content or "(no output)"
        if not self.images:
            return text
        return [{"type": "text", "text": text}, *[image.api_block() for image in self.images]]


class Tool(Protocol):
    """One tool a session may offer the model."""

    @property
    def name(self) -> str:
        """The registry name, as automations list it (``bash``, ``editor``, …)."""
        ...

    def definition(self) -> dict[str, Any]:
        """Return the API tool definition; its ``"name"`` is the name the model calls."""
        ...

    def run(self, tool_input: Mapping[str, Any]) -> ToolResult:
        """Run one call; return its result (errors as ``is_error``, not exceptions)."""
        ...


def cap_output(text: str, limit: int = OUTPUT_CAP) -> str:
    """Return ``text`` cut to about ``limit`` characters, keeping its head and tail.

    The cut is marked ``[… N characters cut …]`` so the model knows output is missing.
    """
    if len(text) <= limit:
        return text
    head = limit * 2 // 5
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n[… {cut} characters cut …]\n{text[-tail:]}"


class ToolRegistry:
    """Tools by registry name; an automation's ``tools:`` list picks the session's tools."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        """Register ``tools``; raise ValueError on a duplicate name."""
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        """Register ``tool``; raise ValueError if its name is already taken."""
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._tools)

    def select(self, names: Sequence[str]) -> list[Tool]:
        """Return the tools named in ``names``, in that order.

        Raises UnknownTool naming the first name that is not registered.
        """
        missing = [n for n in names if n not in self._tools]
        if missing:
            raise UnknownTool(missing[0], self.names())
        return [self._tools[n] for n in names]


@dataclass(frozen=True)
class FunctionTool:
    """A daemon-side tool with a plain JSON-schema definition, run by a Python function."""

    name: str
    description: str
    input_schema: Mapping[str, Any]
    fn: Callable[[Mapping[str, Any]], ToolResult]

    def definition(self) -> dict[str, Any]:
        """Return ``{"name", "description", "input_schema"}``."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": dict(self.input_schema),
        }

    def run(self, tool_input: Mapping[str, Any]) -> ToolResult:
        """Run the function; its content is capped like every tool's output."""
        result = self.fn(tool_input)
        return dataclasses.replace(result, content=cap_output(result.content))


@dataclass(frozen=True)
class SandboxContext:
    """Where sandbox tools run: the sandbox, the run's workspace, network and limits."""

    sandbox: Sandbox
    workspace: Path
    network: Network = "none"
    limits: SandboxLimits | None = None


class BashTool:
    """The Anthropic ``bash_20250124`` client tool; each command runs alone in the sandbox.

    State (cwd, variables) does not persist between calls: every command is a fresh
    ``bash -c`` in the workspace. A non-zero exit is reported, not an error.
    """

    name = "bash"

    def __init__(self, context: SandboxContext) -> None:
        """Run commands through ``context``."""
        self.context = context

    def definition(self) -> dict[str, Any]:
        """Return the client tool type definition."""
        return {"type": "bash_20250124", "name": "bash"}

    def run(self, tool_input: Mapping[str, Any]) -> ToolResult:
        """Run ``input["command"]``; answer stdout, stderr and the exit code."""
        if tool_input.get("restart"):
            return ToolResult("bash restarted (each command runs in a fresh shell anyway)")
        command = tool_input.get("command")
        if not isinstance(command, str) or not command.strip():
            return ToolResult("bash needs a non-empty string 'command'", is_error=True)
        ctx = self.context
        try:
            result = ctx.sandbox.exec(
                ["bash", "-c", command],
                workspace=ctx.workspace,
                network=ctx.network,
                limits=ctx.limits,
            )
        except SandboxError as exc:
            return ToolResult(f"sandbox error: {exc}", is_error=True)
        parts = [result.stdout]
        if result.stderr:
            parts.append(f"[stderr]\n{result.stderr}")
        if result.timed_out or result.killed_reason:
            parts.append(f"[killed: {result.killed_reason or 'timeout'}]")
        parts.append(f"[exit code: {result.exit_code}]")
        text = "\n".join(p.rstrip("\n") for p in parts if p)
        return ToolResult(cap_output(text))
