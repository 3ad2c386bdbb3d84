"""Read-only queries behind run-against-run: tools used per run, where two conversations part,
and the earlier run of an automation under another version of its YAML.

A run records the automation's content hash and its YAML text (``prompt_snapshot``) when it
starts, so two runs' versions are compared from the runs themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from factory.store.dialect import count_true, json_value
from factory.store.records import RunRecord
from factory.store.runstore import RunStore
from factory.store.tables import runs, steps

COMPARED_TEXT = 2000
"""Steps are compared on kind, text length and this many leading characters of text."""


@dataclass(frozen=True)
class ToolUse:
    """How often one tool was called in a run and how many of its results were errors."""

    name: str
    calls: int
    failures: int


@dataclass(frozen=True)
class StepKey:
    """What a step is compared on: its kind and (the start of) its text."""

    seq: int
    kind: str
    text: str
    text_length: int


@dataclass(frozen=True)
class Divergence:
    """The first step where two runs' conversations differ (None on the side that ended)."""

    seq: int
    a: StepKey | None
    b: StepKey | None


class CompareQueries:
    """Read-only queries for comparing runs."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def tool_uses(self, run_id: str) -> list[ToolUse]:
        """Return each tool the run called, with calls and failed results, by name."""
        name = json_value(steps.c.payload, "$.name")
        failed = func.coalesce(json_value(steps.c.payload, "$.is_error", "flag"), 0)
        query = (
            select(
                name.label("name"),
                count_true(steps.c.kind == "tool_call").label("calls"),
                count_true((steps.c.kind == "tool_result") & (failed == 1)).label("failures"),
            )
            .where(steps.c.run_id == run_id, steps.c.kind.in_(("tool_call", "tool_result")))
            .group_by(name)
            .order_by(name)
        )
        with self.store._read() as conn:
            rows = conn.execute(query).all()
        return [
            ToolUse(str(row.name), int(row.calls or 0), int(row.failures or 0))
            for row in rows
            if row.name is not None
        ]

    def step_keys(self, run_id: str) -> list[StepKey]:
        """Return what each step of the run is compared on, in order."""
        query = (
            select(
                steps.c.seq,
                steps.c.kind,
                func.substr(steps.c.text, 1, COMPARED_TEXT).label("text"),
                func.length(steps.c.text).label("text_length"),
            )
            .where(steps.c.run_id == run_id)
            .order_by(steps.c.seq)
        )
        with self.store._read() as conn:
            return [
                StepKey(int(r.seq), str(r.kind), str(r.text or ""), int(r.text_length or 0))
                for r in conn.execute(query)
            ]

    def first_divergence(self, a: str, b: str) -> Divergence | None:
        """Return the first step (by seq) where runs ``a`` and ``b`` differ, or None if their
        conversations are the same step for step. Model requests are skipped: they carry
        the whole conversation so far, which differs as soon as anything before differed."""
        left = [s for s in self.step_keys(a) if s.kind != "model_request"]
        right = [s for s in self.step_keys(b) if s.kind != "model_request"]
        for index in range(max(len(left), len(right))):
            x = left[index] if index < len(left) else None
            y = right[index] if index < len(right) else None
            same = (
                x is not None
                and y is not None
                and (x.kind, x.text, x.text_length)
                == (
                    y.kind,
                    y.text,
                    y.text_length,
                )
            )
            if not same:
                seq = x.seq if x is not None else y.seq if y is not None else index + 1
                return Divergence(seq, x, y)
        return None

    def previous_version_run(self, run: RunRecord) -> RunRecord | None:
        """Return the newest earlier run of the same automation whose content hash differs
        (the run before its YAML last changed), or None."""
        query = (
            select(runs)
            .where(
                runs.c.automation == run.automation,
                runs.c.queued_at <= run.queued_at,
                runs.c.id != run.id,
                runs.c.content_hash != run.content_hash,
            )
            .order_by(runs.c.queued_at.desc(), runs.c.id.desc())
            .limit(1)
        )
        with self.store._read() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else RunRecord.from_row(row)
