"""Read-only queries for the viewer: filtered run lists, step summaries, prompt versions.

These never write. Step summaries leave the (possibly huge) ``payload`` of model requests
and responses in the database: the run page renders ``steps.text`` (truncated in SQL) and
links to the raw JSON of each step instead.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Select, and_, case, func, literal_column, select, text

from factory.errors import StepNotFound
from factory.store import rollups
from factory.store.dialect import json_value
from factory.store.records import RunRecord, StepRecord
from factory.store.runstore import RunStore
from factory.store.tables import events, runs, steps

SMALL_PAYLOAD_KINDS = ("tool_call", "notice", "stop", "output", "egress")
"""Step kinds whose payload is small enough to load with the summary."""


_IS_ERROR = json_value(steps.c.payload, "$.is_error", "flag")
"""A tool result's ``is_error`` as 1/0 (NULL when absent), on both backends."""


@dataclass(frozen=True)
class RunFilter:
    """Which runs a list shows; every field given must match."""

    automation: str | None = None
    status: str | None = None
    subject: str | None = None
    source: str | None = None
    day: date | None = None
    before: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class RunItem:
    """One run with what its event says about it (source, subject title and link)."""

    run: RunRecord
    source: str | None
    event_kind: str | None
    subject_title: str | None
    subject_url: str | None


@dataclass(frozen=True)
class StepSummary:
    """One step without its full payload: text cut to a limit, small payloads only."""

    id: int
    seq: int
    kind: str
    text: str
    text_length: int
    payload: Any
    is_error: bool
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    latency_ms: float | None
    created_at: datetime


@dataclass(frozen=True)
class PromptVersion:
    """Outcome and cost figures of one automation's runs under one content hash."""

    automation: str
    content_hash: str
    runs: int
    finished: int
    succeeded: int
    median_turns: float | None
    median_cost_usd: float | None
    total_cost_usd: float
    first_queued: datetime | None
    last_queued: datetime | None

    @property
    def success_rate(self) -> float | None:
        """Succeeded / finished (skipped excluded), or None before any run finished."""
        return self.succeeded / self.finished if self.finished else None


def _stamp(value: Any) -> datetime | None:
    """Return a stored naive-UTC timestamp (datetime or SQLite text) as aware UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _middle(conn: Connection, column: str, key: dict[str, str], count: int) -> float | None:
    """Return the median of ``column`` over a version's ``count`` finished runs, or None."""
    if not count:
        return None
    sql = text(rollups.MIDDLE_SQL.format(column=column))
    values = conn.execute(sql, {**key, "take": 2 - count % 2, "skip": (count - 1) // 2})
    middle: float = statistics.median([v for (v,) in values])
    return middle


class StatsQueries:
    """The viewer's read queries on one RunStore (read-only or not)."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def list_runs(self, flt: RunFilter) -> list[RunItem]:
        """Return up to ``flt.limit`` runs matching ``flt``, newest first (keyset by id)."""
        query = self._items_query().order_by(runs.c.id.desc()).limit(flt.limit)
        if flt.automation:
            query = query.where(runs.c.automation == flt.automation)
        if flt.status:
            query = query.where(runs.c.status == flt.status)
        if flt.subject:
            query = query.where(runs.c.subject_key == flt.subject)
        if flt.source:
            if flt.source == "none":
                # Unary +: newest first until the page is full, not every event-less run
                # by the unique (event_id, …) index and then a sort.
                query = query.where(literal_column("+runs.event_id").is_(None))
            else:
                query = query.where(events.c.source == flt.source)
        if flt.day is not None:
            start = datetime.combine(flt.day, time(0), tzinfo=UTC)
            query = query.where(
                and_(runs.c.queued_at >= start, runs.c.queued_at < start + timedelta(days=1))
            )
        if flt.before:
            query = query.where(runs.c.id < flt.before)
        with self.store._read() as conn:
            return [self._item(row) for row in conn.execute(query).mappings()]

    def get_run_item(self, run_id: str) -> RunItem | None:
        """Return the run with its event's facts, or None if there is no such run."""
        query = self._items_query().where(runs.c.id == run_id)
        with self.store._read() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else self._item(row)

    def automation_names(self) -> list[str]:
        """Return every automation name that has runs, sorted."""
        query = select(runs.c.automation).distinct().order_by(runs.c.automation)
        with self.store._read() as conn:
            return [str(name) for name in conn.execute(query).scalars()]

    def step_summaries(
        self, run_id: str, *, after_seq: int = 0, text_limit: int = 4000, limit: int | None = None
    ) -> list[StepSummary]:
        """Return the run's steps with seq > ``after_seq`` in order, text cut to ``text_limit``
        (the first ``limit`` of them when given: keyset pages by seq, by uq_steps_run_seq).

        Payloads are loaded only for the small kinds in SMALL_PAYLOAD_KINDS (None otherwise).
        """
        kinds = ", ".join(f"'{k}'" for k in SMALL_PAYLOAD_KINDS)
        query = (
            select(
                steps.c.id,
                steps.c.seq,
                steps.c.kind,
                func.substr(steps.c.text, 1, text_limit).label("text"),
                func.length(steps.c.text).label("text_length"),
                literal_column(f"CASE WHEN steps.kind IN ({kinds}) THEN steps.payload END").label(
                    "payload"
                ),
                case((steps.c.kind == "tool_result", _IS_ERROR)).label("is_error"),
                steps.c.input_tokens,
                steps.c.output_tokens,
                steps.c.cache_read_tokens,
                steps.c.cache_write_tokens,
                steps.c.cost_usd,
                steps.c.latency_ms,
                steps.c.created_at,
            )
            .where(steps.c.run_id == run_id, steps.c.seq > after_seq)
            .order_by(steps.c.seq)
            .limit(limit if limit is not None else -1)
        )
        with self.store._read() as conn:
            rows = conn.execute(query).mappings().all()
        return [self._summary(row) for row in rows]

    def get_step(self, run_id: str, seq: int) -> StepRecord:
        """Return one whole step. Raises StepNotFound."""
        query = select(steps).where(steps.c.run_id == run_id, steps.c.seq == seq)
        with self.store._read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise StepNotFound(run_id, seq)
        return StepRecord.from_row(row)

    def prompt_versions(self, automation: str | None = None) -> list[PromptVersion]:
        """Return figures per (automation, content hash), newest version first per automation.

        Totals come from the daily rollups plus the unfinished runs; medians are over
        finished runs (skipped ones excluded), read as the middle rows of a partial index.
        """
        with self.store._read() as conn:
            totals = conn.execute(text(rollups.VERSIONS_SQL)).all()
            versions = []
            for name, digest, count, succeeded, total_cost, first, last in totals:
                if automation is not None and name != automation:
                    continue
                key = {"automation": name, "content_hash": digest}
                finished = int(
                    conn.execute(text(rollups.FINISHED_OF_VERSION_SQL), key).scalar_one()
                )
                versions.append(
                    PromptVersion(
                        automation=name,
                        content_hash=digest,
                        runs=int(count),
                        finished=finished,
                        succeeded=int(succeeded or 0),
                        median_turns=_middle(conn, "turns", key, finished),
                        median_cost_usd=_middle(conn, "cost_usd", key, finished),
                        total_cost_usd=float(total_cost or 0.0),
                        first_queued=_stamp(first),
                        last_queued=_stamp(last),
                    )
                )
        return versions

    @staticmethod
    def _items_query() -> Select[Any]:
        return select(
            runs,
            events.c.source.label("ev_source"),
            events.c.kind.label("ev_kind"),
            events.c.subject.label("ev_subject"),
        ).select_from(runs.outerjoin(events, runs.c.event_id == events.c.id))

    @staticmethod
    def _item(row: Any) -> RunItem:
        subject = row["ev_subject"] if isinstance(row["ev_subject"], dict) else {}
        title, url = subject.get("title"), subject.get("url")
        return RunItem(
            run=RunRecord.from_row(row),
            source=row["ev_source"],
            event_kind=row["ev_kind"],
            subject_title=title if isinstance(title, str) else None,
            subject_url=url if isinstance(url, str) else None,
        )

    @staticmethod
    def _summary(row: Any) -> StepSummary:
        payload = row["payload"]
        if isinstance(payload, str):
            payload = json.loads(payload)
        return StepSummary(
            id=row["id"],
            seq=row["seq"],
            kind=row["kind"],
            text=row["text"] or "",
            text_length=int(row["text_length"] or 0),
            payload=payload,
            is_error=bool(row["is_error"]),
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            cache_read_tokens=row["cache_read_tokens"],
            cache_write_tokens=row["cache_write_tokens"],
            cost_usd=row["cost_usd"],
            latency_ms=row["latency_ms"],
            created_at=_stamp(row["created_at"]) or datetime.now(UTC),
        )
