"""Agent-facing output tools: one tool per output kind the automation allows.

Each tool's input schema is its request model's JSON schema; calling it hands the request to
the ``OutputGate``, which checks it and, if allowed, performs it. The tool answers the
decision: performed with the URL, or ``is_error`` with the reason it was refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from factory.agent.tools import FunctionTool, Tool, ToolResult
from factory.forge.output_requests import REQUEST_MODELS, RunContext
from factory.forge.outputs import OutputGate

TOOL_PREFIX = "output_"
"""Tool names are ``output_<kind>`` (``output_comment``, ``output_create_issue``, …)."""

_SUMMARY: dict[str, str] = {
    "create_issue": "Open a new issue in the repository.",
    "comment": "Post a comment on this run's issue or pull request.",
    "add_labels": "Add labels to this run's issue or pull request.",
    "remove_labels": "Remove labels from this run's issue or pull request.",
    "close_issue": "Close this run's issue, optionally with a comment saying why.",
    "review_pull_request": "Submit a review of this run's pull request.",
    "open_pull_request": "Open a pull request with the changes made in the workspace.",
    "merge_pull_request": "Ask to merge this run's pull request (the merge policy decides).",
    "slack_reply": "Post a message in the Slack thread this run came from.",
    "slack_react": "Add an emoji reaction to the Slack message that started this run.",
    "slack_post": "Post a message in this automation's Slack channel (top level, not a thread).",
    "sentry_update": "Comment on, or resolve, the Sentry issue this run is about.",
    "propose_config_change": "Propose a change to automation YAML or harness documents of the"
    " factory's own config, as a needs-human pull request on the factory config repository"
    " (a person reviews and merges it; the factory never does).",
    "push_to_pull_request": "Push the changes made in the workspace onto this run's pull"
    " request, as one commit on its own branch (only a factory/ branch the factory opened).",
    "revert_pull_request": "Ask for a pull request that reverts a merged pull request (the"
    " daemon makes the revert with git and opens it for a person to merge; the policy decides).",
}

_REQUEST_NOTE = (
    " This is a request: the daemon checks it against this automation's allowed outputs,"
    " quotas and label allowlist, removes @mentions and secrets from the text, and answers"
    " whether it was performed (with a link) or refused (with the reason)."
)


def _schema(kind: str) -> dict[str, Any]:
    schema = REQUEST_MODELS[kind].model_json_schema()
    schema.pop("title", None)
    schema.pop("description", None)
    return schema


def output_tool(gate: OutputGate, ctx: RunContext, kind: str) -> Tool:
    """Return the tool for one output kind; raises ValueError for an unknown kind."""
    if kind not in REQUEST_MODELS:
        raise ValueError(f"unknown output kind {kind!r}")
    config = getattr(ctx.outputs, kind)
    quota = f" At most {config.max} per run." if config is not None else ""

    def run(tool_input: Mapping[str, Any]) -> ToolResult:
        decision = gate.request(ctx, kind, tool_input)
        return ToolResult(decision.text(), is_error=not decision.ok)

    return FunctionTool(
        name=f"{TOOL_PREFIX}{kind}",
        description=_SUMMARY[kind] + quota + _REQUEST_NOTE,
        input_schema=_schema(kind),
        fn=run,
    )


def output_tools(gate: OutputGate, ctx: RunContext) -> list[Tool]:
    """Return one tool per output kind the run's automation allows, in ``Outputs`` order."""
    return [output_tool(gate, ctx, kind) for kind in ctx.outputs.kinds()]
