"""Outcomes: what became of each output, as GitHub told it (merged, closed, reverted, …).

One row per (output, fate) — and per deciding event for the fates an object can reach more
than once (an issue closed, reopened and closed again) — so deciding the same event twice
(a crash between absorbing and marking it dispatched) records nothing new. Each row carries
its output's run, automation and prompt version (``runs.content_hash``) so the viewer and
the auditor read fates per prompt version without joins through the outputs. An output's
*current* fate is its latest row: a pull request merged and then reverted counts as reverted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from factory.errors import StoreError
from factory.store.base import StoreBase
from factory.store.dialect import json_value
from factory.store.outcome_stats import VersionOutcomes, outcome_figures
from factory.store.records import OutputRecord
from factory.store.redaction import redact_json
from factory.store.tables import OUTCOME_FATES, outcomes, outputs, runs

REPEATABLE_FATES = ("issue_completed", "issue_not_planned", "issue_reopened")
"""Fates one object can reach again later; each deciding event gets its own row."""


@dataclass(frozen=True)
class OutcomeRecord:
    """One recorded fate of one output."""

    id: int
    key: str
    output_id: int
    run_id: str
    automation: str
    content_hash: str
    subject_key: str
    """The GitHub object the output made or touched (``pull_request:15``, ``issue:7``)."""
    kind: str
    """``pull_request``, ``issue`` or ``review``."""
    fate: str
    output_at: datetime
    decided_at: datetime
    event_id: int | None
    evidence: Any

    @property
    def seconds_to_outcome(self) -> float:
        """Seconds from the output being written to its fate being decided."""
        return (self.decided_at - self.output_at).total_seconds()


def outcome_key(output_id: int, fate: str, event_id: int | None) -> str:
    """Return the unique key of one fate of one output (see the module docs)."""
    if fate in REPEATABLE_FATES:
        return f"{output_id}:{fate}:{event_id}"
    return f"{output_id}:{fate}"


class OutcomeLog(StoreBase):
    """Methods on the outcomes table, and the output lookups that decide its rows."""

    def record_outcome(
        self,
        output_id: int,
        fate: str,
        *,
        subject_key: str,
        kind: str,
        decided_at: datetime,
        event_id: int | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> bool:
        """Record that output ``output_id`` reached ``fate``; return True if new, False if
        that fate (from that event, for repeatable fates) was recorded before.

        Raises ValueError for an unknown fate, StoreError for an unknown output.
        """
        if fate not in OUTCOME_FATES:
            raise ValueError(f"outcome fate {fate!r} is not one of {OUTCOME_FATES}")
        key = outcome_key(output_id, fate, event_id)
        with self._write() as conn:
            if conn.execute(select(outcomes.c.id).where(outcomes.c.key == key)).first():
                return False
            row = conn.execute(
                select(outputs.c.run_id, outputs.c.updated_at, runs.c.automation)
                .add_columns(runs.c.content_hash)
                .join(runs, runs.c.id == outputs.c.run_id)
                .where(outputs.c.id == output_id)
            ).first()
            if row is None:
                raise StoreError(f"output {output_id} not found in run store {self.where}")
            conn.execute(
                outcomes.insert().values(
                    key=key,
                    output_id=output_id,
                    run_id=row.run_id,
                    automation=row.automation,
                    content_hash=row.content_hash,
                    subject_key=subject_key,
                    kind=kind,
                    fate=fate,
                    output_at=row.updated_at,
                    decided_at=decided_at,
                    event_id=event_id,
                    evidence=redact_json(evidence or {}),
                )
            )
        return True

    def output_that_made(self, kind: str, number: int) -> OutputRecord | None:
        """Return the newest applied output of ``kind`` whose result names ``number`` (the pull
        request an ``open_pull_request`` opened, the issue a ``create_issue`` filed), or None."""
        query = (
            select(outputs)
            .where(
                outputs.c.kind == kind,
                json_value(outputs.c.result, "$.number", "int") == number,
                outputs.c.status == "applied",
            )
            .order_by(outputs.c.id.desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
            return None if row is None else OutputRecord.from_row(row)

    def get_output(self, output_id: int) -> OutputRecord:
        """Return one output; raises StoreError for an unknown id."""
        with self._read() as conn:
            row = conn.execute(select(outputs).where(outputs.c.id == output_id)).mappings().first()
        if row is None:
            raise StoreError(f"output {output_id} not found in run store {self.where}")
        return OutputRecord.from_row(row)

    def outcome_figures(self, automation: str | None = None) -> list[VersionOutcomes]:
        """Return the outcome figures per automation and prompt version (see
        ``factory.store.outcome_stats``); only ``automation``'s when given."""
        with self._read() as conn:
            return outcome_figures(conn, automation)

    def outputs_targeting(self, kind: str, target: int) -> list[OutputRecord]:
        """Return the applied outputs of ``kind`` written to issue or pull request ``target``
        (e.g. the factory's reviews of one pull request), oldest first."""
        query = (
            select(outputs)
            .where(
                outputs.c.kind == kind,
                json_value(outputs.c.request, "$.target", "int") == target,
                outputs.c.status == "applied",
            )
            .order_by(outputs.c.id)
        )
        with self._read() as conn:
            return [OutputRecord.from_row(r) for r in conn.execute(query).mappings()]

    def outcomes_of_output(self, output_id: int) -> list[OutcomeRecord]:
        """Return every recorded fate of one output, oldest decision first."""
        query = select(outcomes).where(outcomes.c.output_id == output_id)
        return self._outcomes(query.order_by(outcomes.c.decided_at, outcomes.c.id))

    def outcomes_of_subject(self, subject_key: str) -> list[OutcomeRecord]:
        """Return every recorded fate about one GitHub object, oldest decision first."""
        query = select(outcomes).where(outcomes.c.subject_key == subject_key)
        return self._outcomes(query.order_by(outcomes.c.decided_at, outcomes.c.id))

    def merged_outcomes(self, limit: int = 500) -> list[OutcomeRecord]:
        """Return the newest merged pull request fates (what a revert may point at)."""
        query = (
            select(outcomes)
            .where(outcomes.c.fate.in_(["merged_zero_touch", "merged_after_human_changes"]))
            .order_by(outcomes.c.id.desc())
            .limit(limit)
        )
        return self._outcomes(query)

    def _outcomes(self, query: Any) -> list[OutcomeRecord]:
        with self._read() as conn:
            rows = conn.execute(query).mappings()
            fields = OutcomeRecord.__dataclass_fields__
            return [OutcomeRecord(**{k: r[k] for k in fields}) for r in rows]
