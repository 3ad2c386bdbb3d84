"""The editor tool (``text_editor_20250728``): file edits done inside the sandbox.

Agent-chosen paths are never opened on the host (a symlink in the workspace could point
anywhere): the edit runs as ``python3 -c <editor_script>`` in the sandbox, with the
tool input as JSON on stdin, and answers JSON on stdout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from factory.agent.tools import SandboxContext, ToolResult, cap_output
from factory.errors import SandboxError

SCRIPT = (Path(__file__).parent / "editor_script.py").read_text(encoding="utf-8")
COMMANDS = ("view", "create", "str_replace", "insert")


class EditorTool:
    """Anthropic's text editor client tool, registered as ``editor``."""

    name = "editor"

    def __init__(self, context: SandboxContext) -> None:
        """Run edits through ``context``."""
        self.context = context

    def definition(self) -> dict[str, Any]:
        """Return the client tool type definition."""
        return {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}

    def run(self, tool_input: Mapping[str, Any]) -> ToolResult:
        """Run one editor command in the sandbox; failures come back as ``is_error``."""
        command = tool_input.get("command")
        if command not in COMMANDS:
            return ToolResult(
                f"unknown editor command {command!r}; use one of {', '.join(COMMANDS)}",
                is_error=True,
            )
        ctx = self.context
        try:
            result = ctx.sandbox.exec(
                ["python3", "-c", SCRIPT],
                workspace=ctx.workspace,
                network="none",
                limits=ctx.limits,
                stdin=json.dumps(dict(tool_input)).encode(),
            )
        except SandboxError as exc:
            return ToolResult(f"sandbox error: {exc}", is_error=True)
        try:
            answer = json.loads(result.stdout)
            ok, output = bool(answer["ok"]), str(answer["output"])
        except (ValueError, KeyError, TypeError):
            detail = (result.stderr or result.stdout).strip()[-2000:]
            return ToolResult(
                f"editor failed (exit code {result.exit_code}): {detail}", is_error=True
            )
        return ToolResult(cap_output(output), is_error=not ok)
