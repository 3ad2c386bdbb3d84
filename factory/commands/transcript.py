"""Plain-text and JSON renderings of runs and their steps, for the terminal (`runs`, `show`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from factory.store.records import RunRecord, StepRecord

_FOLD = 2000
"""Characters of one step's text shown in the terminal before the rest is folded."""


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _duration(run: RunRecord) -> str:
    return "-" if run.duration_s is None else f"{run.duration_s:.1f}s"


def runs_table(runs: Sequence[RunRecord]) -> str:
    """Return a fixed-width table of runs, one line each, or a note when there are none."""
    if not runs:
        return "no runs"
    header = (
        "RUN",
        "AUTOMATION",
        "STATUS",
        "SUBJECT",
        "QUEUED (UTC)",
        "TIME",
        "TURNS",
        "COST",
        "WHY",
    )
    rows = [header] + [
        (
            r.id,
            r.automation,
            r.status,
            r.subject_key or "-",
            _when(r.queued_at),
            _duration(r),
            str(r.turns),
            f"${r.cost_usd:.4f}",
            _why(r),
        )
        for r in runs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _why(run: RunRecord) -> str:
    """The reason worth a glance in a table: why it was skipped or failed."""
    if run.status in ("succeeded", "queued", "running"):
        return ""
    text = (run.stop_reason or run.error or "").replace("\n", " ")
    return text if len(text) <= 70 else text[:69] + "…"


def _fold(text: str) -> str:
    if len(text) <= _FOLD:
        return text
    cut = len(text) - _FOLD
    return f"{text[: _FOLD // 2]}\n[… {cut} characters folded; see --json …]\n{text[-_FOLD // 2 :]}"


def _step_text(step: StepRecord) -> str:
    if step.text:
        return step.text
    return json.dumps(step.payload, ensure_ascii=False)


def render(run: RunRecord, steps: Sequence[StepRecord]) -> str:
    """Return a run's header and its steps in order as terminal text."""
    lines = [
        f"run {run.id}  {run.automation}  {run.status}"
        + (f" ({run.stop_reason})" if run.stop_reason else ""),
        f"subject {run.subject_key or '-'}  attempt {run.attempt}  prompt {run.content_hash[:12]}",
        f"queued {_when(run.queued_at)}  started {_when(run.started_at)}  "
        f"finished {_when(run.finished_at)}  took {_duration(run)}",
        f"turns {run.turns}  tokens in {run.input_tokens} out {run.output_tokens} "
        f"cache read {run.cache_read_tokens} write {run.cache_write_tokens}  "
        f"cost ${run.cost_usd:.4f}",
    ]
    if run.error:
        lines.append(f"error: {run.error}")
    for step in steps:
        meta = []
        if step.input_tokens or step.output_tokens:
            meta.append(f"in {step.input_tokens} out {step.output_tokens}")
        if step.cache_read_tokens:
            meta.append(f"cache read {step.cache_read_tokens}")
        if step.latency_ms is not None:
            meta.append(f"{step.latency_ms:.0f} ms")
        suffix = f"  ({', '.join(meta)})" if meta else ""
        lines.append("")
        lines.append(f"--- #{step.seq} {step.kind}{suffix}")
        lines.append(_fold(_step_text(step)))
    return "\n".join(lines)
