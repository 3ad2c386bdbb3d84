"""How one step is shown on the run page: a title, text (folded when long), diff lines.

Everything here produces plain strings and lists; the template escapes them. Nothing
is ever marked safe, so agent, tool and issue text can only ever show as text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from factory.logs import redactor
from factory.store.stats import StepSummary

FOLD_LINES = 12
"""Texts longer than this many lines are folded in a <details>."""
FOLD_CHARS = 1200
"""Texts longer than this many characters are folded in a <details>."""
TEXT_LIMIT = 4000
"""Characters of a step's text shown on the page; the rest is in the raw JSON."""
SCRUB_MARGIN = 4096
"""Extra characters loaded past TEXT_LIMIT so a secret crossing the cut is still whole
when scrubbed: text is always scrubbed first and cut after, never the other way round."""
LOAD_LIMIT = TEXT_LIMIT + SCRUB_MARGIN


def scrub_cut(text: str, limit: int) -> str:
    """Return ``text`` scrubbed of secrets, then cut to ``limit`` characters."""
    return redactor.scrub(text)[:limit]


@dataclass(frozen=True)
class StepView:
    """One step ready for the template."""

    seq: int
    kind: str
    title: str
    text: str
    truncated: bool
    folded: bool
    summary: str
    diff: list[tuple[str, str]] | None
    is_error: bool
    meta: str


def looks_like_diff(text: str) -> bool:
    """Return True for a git diff or a unified diff with hunks."""
    head = text.lstrip()[:200]
    return head.startswith("diff --git") or (
        ("\n--- " in text or text.startswith("--- ")) and "\n@@ " in text
    )


def diff_lines(text: str) -> list[tuple[str, str]]:
    """Return (css class, line) pairs: add / del / hunk / meta / '' for context."""
    out: list[tuple[str, str]] = []
    for line in text.split("\n"):
        if line.startswith(("+++", "---", "diff --git", "index ")):
            cls = "meta"
        elif line.startswith("+"):
            cls = "add"
        elif line.startswith("-"):
            cls = "del"
        elif line.startswith("@@"):
            cls = "hunk"
        else:
            cls = ""
        out.append((cls, line))
    return out


def _title(step: StepSummary) -> str:
    payload = step.payload if isinstance(step.payload, dict) else {}
    if step.kind == "tool_call":
        return f"tool call: {payload.get('name', '?')}"
    if step.kind == "tool_result":
        return "tool result"
    if step.kind == "model_response":
        return "model"
    if step.kind == "model_request":
        return "model request"
    if step.kind == "egress":
        return f"egress {payload.get('decision', '?')}: {payload.get('host')}:{payload.get('port')}"
    if step.kind == "stop":
        return f"stop: {payload.get('status', '?')} ({payload.get('kind', '?')})"
    return step.kind.replace("_", " ")


def _body(step: StepSummary) -> str:
    if step.kind == "tool_call" and isinstance(step.payload, dict):
        tool_input = step.payload.get("input")
        if isinstance(tool_input, dict) and set(tool_input) == {"command"}:
            return str(tool_input["command"])
        return scrub_cut(json.dumps(tool_input, indent=2, ensure_ascii=False), TEXT_LIMIT)
    if step.kind == "model_request" and not step.text:
        return ""
    return scrub_cut(step.text, TEXT_LIMIT)


def _meta(step: StepSummary) -> str:
    parts = []
    if step.input_tokens or step.output_tokens:
        parts.append(f"in {step.input_tokens} / out {step.output_tokens} tok")
    if step.cache_read_tokens or step.cache_write_tokens:
        parts.append(f"cache r {step.cache_read_tokens} / w {step.cache_write_tokens}")
    if step.cost_usd:
        parts.append(f"${step.cost_usd:.4f}")
    if step.latency_ms is not None:
        parts.append(f"{step.latency_ms / 1000:.2f}s")
    return " · ".join(parts)


def step_view(step: StepSummary) -> StepView:
    """Return how ``step`` is shown: long tool results and texts folded, diffs classed."""
    body = _body(step)
    lines = body.count("\n") + 1
    long = lines > FOLD_LINES or len(body) > FOLD_CHARS
    first = body.strip().split("\n", 1)[0][:120]
    return StepView(
        seq=step.seq,
        kind=step.kind,
        title=_title(step),
        text=body,
        truncated=step.text_length > TEXT_LIMIT,
        folded=long and step.kind != "model_response",
        summary=f"{first} … ({lines} lines, {step.text_length} characters)",
        diff=diff_lines(body) if looks_like_diff(body) else None,
        is_error=step.is_error,
        meta=_meta(step),
    )
