"""The frozen records the RunStore hands back: runs, steps, events, outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping

from factory.events import Event, Subject


@dataclass(frozen=True)
class RunRecord:
    """One run, as stored."""

    id: str
    automation: str
    content_hash: str
    prompt_snapshot: str
    subject_key: str | None
    event_id: int | None
    status: str
    attempt: int
    retryable: bool
    not_before: datetime | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    turns: int
    stop_reason: str | None
    error: str | None
    holder: str | None

    @property
    def finished(self) -> bool:
        """True once the run reached a final status."""
        return self.finished_at is not None

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to finish, or None if it has not both started and finished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @classmethod
    def from_row(cls, row: RowMapping) -> RunRecord:
        """Return the record for one row of the runs table."""
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class StepRecord:
    """One recorded step of a run's session."""

    id: int
    run_id: str
    seq: int
    kind: str
    payload: Any
    text: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    latency_ms: float | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> StepRecord:
        """Return the record for one row of the steps table."""
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class EventRecord:
    """One stored event: its row id, the Event, and when it was dispatched."""

    id: int
    event: Event
    dispatched_at: datetime | None = field(default=None)
    ignored: str | None = None
    """Why the event is kept but never dispatched (e.g. it is about another repository)."""

    @classmethod
    def from_row(cls, row: RowMapping) -> EventRecord:
        """Return the record for one row of the events table."""
        subject = Subject.model_validate(row["subject"]) if row["subject"] else None
        event = Event(
            source=row["source"],
            kind=row["kind"],
            dedup_key=row["dedup_key"],
            subject=subject,
            actor=row["actor"],
            trust=row["trust"],
            by_factory=row["by_factory"],
            payload=row["payload"],
            received_at=row["received_at"],
        )
        return cls(
            id=row["id"],
            event=event,
            dispatched_at=row["dispatched_at"],
            ignored=row.get("ignored"),
        )


@dataclass(frozen=True)
class OutputRecord:
    """One output: recorded as intent before it is performed, then marked."""

    id: int
    run_id: str
    kind: str
    idempotency_key: str
    request: Any
    result: Any
    status: str
    url: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> OutputRecord:
        """Return the record for one row of the outputs table."""
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})
