"""Read-only queries behind the auditor's ``factory_runs`` tool: how each automation's prompt
versions fare, which tool calls keep failing, and the outcomes of their outputs.

Figures are grouped by automation and prompt version (``runs.content_hash``: the YAML, its
harness documents and the policy). A *failing tool call* is a ``tool_call`` step whose
``tool_result`` (same ``tool_use_id``) is an error; calls are the same when their tool name,
input and the first line of their error are; a call is *repeated* when it failed in at least
``min_runs`` different runs. Outcomes are the current fates of the outcomes table
(``store.outcome_stats``, the figures the viewer shows). These never write.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from factory.store.dialect import json_value
from factory.store.outcome_stats import outcome_figures
from factory.store.runstore import RunStore
from factory.store.tables import runs, steps

MAX_AUDITED_STEPS = 50_000
"""Tool steps read at most for one failing-calls query (the newest runs first)."""
ERROR_CHARS = 200
"""Characters of a tool error kept as its reason."""


@dataclass(frozen=True)
class VersionFigures:
    """How one automation's runs went under one prompt version."""

    automation: str
    content_hash: str
    runs: int
    """Runs queued in the window."""
    statuses: dict[str, int]
    """Runs per final (or current) status."""
    failure_reasons: dict[str, int]
    """Failed runs per reason (stop reason, else the first line of the error)."""
    stops: dict[str, int]
    """Sessions per stop kind (LimitsExceeded: a budget; LoopDetected: a loop; Submitted…)."""
    turns: int
    """Model turns, all runs together."""
    cost_usd: float
    """Model spend, all runs together."""
    first_queued: datetime
    last_queued: datetime

    @property
    def mean_turns(self) -> float:
        """Turns per run."""
        return self.turns / self.runs if self.runs else 0.0

    @property
    def mean_cost_usd(self) -> float:
        """USD per run."""
        return self.cost_usd / self.runs if self.runs else 0.0


@dataclass(frozen=True)
class FailingCall:
    """One tool call (name, input) that failed the same way in several runs."""

    tool: str
    input: str
    """The call's input as sorted JSON."""
    error: str
    """The first line of its error result (cut to ERROR_CHARS)."""
    failures: int
    """Failed calls, all runs together."""
    run_ids: tuple[str, ...]
    """The runs it failed in, oldest first."""
    automations: tuple[str, ...]
    """The automations of those runs."""


@dataclass(frozen=True)
class OutcomeFigures:
    """How the outputs of one automation's prompt version ended, per fate."""

    automation: str
    content_hash: str
    fates: dict[str, int] = field(default_factory=dict)


def _reason(run: Any) -> str:
    text = run.stop_reason or (run.error or "").strip().splitlines()[:1]
    if isinstance(text, list):
        text = text[0] if text else ""
    return str(text)[:ERROR_CHARS] or "(no reason recorded)"


class AuditQueries:
    """Read-only queries over the run store for the auditor."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def versions(self, since: datetime, automation: str | None = None) -> list[VersionFigures]:
        """Return the figures of every (automation, prompt version) with runs queued at or
        after ``since``, ordered by automation then first run."""
        query = select(runs).where(runs.c.queued_at >= since).order_by(runs.c.queued_at)
        if automation is not None:
            query = query.where(runs.c.automation == automation)
        stop_kind = json_value(steps.c.payload, "$.kind")
        stop_query = (
            select(steps.c.run_id, stop_kind.label("kind"))
            .join(runs, runs.c.id == steps.c.run_id)
            .where(steps.c.kind == "stop", runs.c.queued_at >= since)
        )
        with self.store._read() as conn:
            rows = list(conn.execute(query))
            stop_by_run = {str(r.run_id): str(r.kind) for r in conn.execute(stop_query)}
        groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for row in rows:
            groups[(row.automation, row.content_hash)].append(row)
        figures = []
        for (name, digest), members in groups.items():
            statuses: dict[str, int] = defaultdict(int)
            reasons: dict[str, int] = defaultdict(int)
            stops: dict[str, int] = defaultdict(int)
            for run in members:
                statuses[run.status] += 1
                if run.status == "failed":
                    reasons[_reason(run)] += 1
                if run.id in stop_by_run:
                    stops[stop_by_run[run.id]] += 1
            figures.append(
                VersionFigures(
                    automation=name,
                    content_hash=digest,
                    runs=len(members),
                    statuses=dict(statuses),
                    failure_reasons=dict(reasons),
                    stops=dict(stops),
                    turns=sum(int(r.turns or 0) for r in members),
                    cost_usd=sum(float(r.cost_usd or 0.0) for r in members),
                    first_queued=members[0].queued_at,
                    last_queued=members[-1].queued_at,
                )
            )
        return sorted(figures, key=lambda f: (f.automation, f.first_queued))

    def failing_calls(
        self, since: datetime, *, automation: str | None = None, min_runs: int = 2
    ) -> list[FailingCall]:
        """Return the tool calls that failed the same way in at least ``min_runs`` runs queued
        at or after ``since``, most runs first."""
        query = (
            select(
                steps.c.run_id, steps.c.kind, steps.c.payload, runs.c.automation, runs.c.queued_at
            )
            .join(runs, runs.c.id == steps.c.run_id)
            .where(runs.c.queued_at >= since, steps.c.kind.in_(("tool_call", "tool_result")))
            .order_by(runs.c.queued_at.desc(), steps.c.run_id, steps.c.seq)
            .limit(MAX_AUDITED_STEPS)
        )
        if automation is not None:
            query = query.where(runs.c.automation == automation)
        with self.store._read() as conn:
            rows = list(conn.execute(query))
        calls: dict[tuple[str, Any], tuple[str, str]] = {}
        found: dict[tuple[str, str, str], list[tuple[datetime, str, str]]] = defaultdict(list)
        for row in rows:
            payload = row.payload if isinstance(row.payload, dict) else {}
            if row.kind == "tool_call":
                shown = json.dumps(payload.get("input", {}), sort_keys=True, default=str)
                calls[(row.run_id, payload.get("id"))] = (str(payload.get("name")), shown)
                continue
            if not payload.get("is_error"):
                continue
            call = calls.get((row.run_id, payload.get("tool_use_id")))
            if call is None:
                continue
            lines = str(payload.get("content") or "").strip().splitlines()
            error = (lines[0] if lines else "(empty error)")[:ERROR_CHARS]
            found[(call[0], call[1], error)].append((row.queued_at, row.run_id, row.automation))
        result = []
        for (tool, shown, error), hits in found.items():
            hits.sort()
            run_ids = tuple(dict.fromkeys(h[1] for h in hits))
            if len(run_ids) < min_runs:
                continue
            automations = tuple(dict.fromkeys(h[2] for h in hits))
            result.append(FailingCall(tool, shown, error, len(hits), run_ids, automations))
        return sorted(result, key=lambda c: (-len(c.run_ids), -c.failures, c.tool, c.input))

    def outcomes(self, automation: str | None = None) -> list[OutcomeFigures]:
        """Return how each prompt version's outputs ended (their current fates: a merged
        pull request later reverted counts as reverted), per automation and version."""
        with self.store._read() as conn:
            figures = outcome_figures(conn, automation)
        return [OutcomeFigures(f.automation, f.content_hash, dict(f.fates)) for f in figures]
