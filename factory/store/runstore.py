"""RunStore: the one class that writes SQL — events, runs, steps, usage and outputs.

Runs are rows: queued → running → a final status. Steps get a per-run ``seq`` allocated
inside the write transaction, so concurrent writers never collide. ``add_step`` records
a step's own tokens and cost for the transcript; ``add_usage`` adds to the run's totals
(the session calls both for a model call; only ``add_usage`` moves the run's spend).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, Select, func, or_, select

from factory.errors import DuplicateRun, RunNotFound, StoreError
from factory.events import as_utc, utcnow
from factory.ids import new_id
from factory.interfaces import Usage
from factory.store import rollups
from factory.store.event_log import EventLog
from factory.store.lineage import LineageLog
from factory.store.outcomes import OutcomeLog
from factory.store.output_log import OutputLog
from factory.store.records import RunRecord, StepRecord
from factory.store.redaction import redact_json, redact_text
from factory.store.tables import FINISHED_STATUSES, runs, steps

log = structlog.get_logger(__name__)

INTERRUPTED_ERROR = "the daemon stopped while the run was running"


class RunStore(EventLog, OutputLog, LineageLog, OutcomeLog):
    """The factory's SQLite store. Open with ``RunStore.open(path, readonly=False)``."""

    # -- runs -------------------------------------------------------------------------

    def create_run(
        self,
        automation: str,
        *,
        event_id: int | None = None,
        subject_key: str | None = None,
        content_hash: str = "",
        prompt_snapshot: str = "",
        attempt: int = 1,
        not_before: datetime | None = None,
        status: str = "queued",
        stop_reason: str | None = None,
        now: datetime | None = None,
    ) -> str:
        """Insert a run (``queued``, or ``skipped`` with a stop_reason) and return its id.

        Raises DuplicateRun (carrying the existing id) if the event already has a run for
        this automation and attempt; ValueError for another status or attempt < 1.
        """
        if status not in ("queued", "skipped"):
            raise ValueError(f"a new run is queued or skipped, not {status!r}")
        if attempt < 1:
            raise ValueError(f"attempt must be at least 1, not {attempt}")
        stamp = now or utcnow()
        run_id = new_id()
        prompt_snapshot, stop_reason = redact_text(prompt_snapshot), redact_text(stop_reason)
        with self._write() as conn:
            if event_id is not None:
                existing = conn.execute(
                    select(runs.c.id).where(
                        runs.c.event_id == event_id,
                        runs.c.automation == automation,
                        runs.c.attempt == attempt,
                    )
                ).scalar_one_or_none()
                if existing is not None:
                    raise DuplicateRun(existing, event_id, automation, attempt)
            conn.execute(
                runs.insert().values(
                    id=run_id,
                    automation=automation,
                    content_hash=content_hash,
                    prompt_snapshot=prompt_snapshot,
                    subject_key=subject_key,
                    event_id=event_id,
                    status=status,
                    attempt=attempt,
                    retryable=False,
                    not_before=not_before,
                    queued_at=stamp,
                    finished_at=stamp if status == "skipped" else None,
                    stop_reason=stop_reason,
                )
            )
            if status == "skipped":
                rollups.add_finished(conn, [run_id])
        log.info(
            "run_queued" if status == "queued" else "run_skipped",
            run_id=run_id,
            automation=automation,
            subject=subject_key,
            attempt=attempt,
        )
        return run_id

    def retry_run(self, run_id: str, *, not_before: datetime | None = None) -> str:
        """Queue the next attempt of a finished run (same automation, event, subject, prompt).

        Returns the new run's id. Raises RunNotFound, DuplicateRun if that attempt exists,
        StoreError if the run has not finished.
        """
        run = self.get_run(run_id)
        if not run.finished:
            raise StoreError(f"run {run_id!r} is {run.status}; only a finished run is retried")
        return self.create_run(
            run.automation,
            event_id=run.event_id,
            subject_key=run.subject_key,
            content_hash=run.content_hash,
            prompt_snapshot=run.prompt_snapshot,
            attempt=run.attempt + 1,
            not_before=not_before,
        )

    def start_run(
        self,
        run_id: str,
        holder: str,
        *,
        now: datetime | None = None,
        version: tuple[str, str] | None = None,
    ) -> RunRecord:
        """Move a queued run to ``running`` under ``holder``; return the updated run.

        ``version`` (content hash, prompt snapshot) records the automation version the run
        actually starts with, which may be newer than the one it was queued under.
        Raises RunNotFound, or StoreError if the run is not queued.
        """
        with self._write() as conn:
            run = self._get(conn, run_id)
            if run.status != "queued":
                raise StoreError(f"run {run_id!r} is {run.status}, not queued; cannot start it")
            self._set_running(conn, run_id, holder, now or utcnow())
            if version is not None:
                conn.execute(
                    runs.update()
                    .where(runs.c.id == run_id)
                    .values(content_hash=version[0], prompt_snapshot=redact_text(version[1]))
                )
            return self._get(conn, run_id)

    def queued_runs(
        self, *, automation: str | None = None, now: datetime | None = None, limit: int = 100
    ) -> list[RunRecord]:
        """Return queued runs that are due (not_before passed), oldest first."""
        with self._read() as conn:
            rows = conn.execute(self._due_query(automation, now or utcnow()).limit(limit))
            return [RunRecord.from_row(r) for r in rows.mappings()]

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        stop_reason: str | None = None,
        error: str | None = None,
        retryable: bool = False,
        now: datetime | None = None,
    ) -> RunRecord:
        """Give a run its final status; return the updated run.

        Raises ValueError for a status that is not final, RunNotFound, or StoreError if
        the run already finished.
        """
        if status not in FINISHED_STATUSES:
            raise ValueError(f"{status!r} is not a final run status {FINISHED_STATUSES}")
        stop_reason, error = redact_text(stop_reason), redact_text(error)
        with self._write() as conn:
            run = self._get(conn, run_id)
            if run.finished:
                raise StoreError(f"run {run_id!r} already finished as {run.status}")
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    status=status,
                    stop_reason=stop_reason,
                    error=error,
                    retryable=retryable,
                    finished_at=now or utcnow(),
                )
            )
            rollups.add_finished(conn, [run_id])
            finished = self._get(conn, run_id)
        log.info(
            "run_finished",
            run_id=run_id,
            automation=run.automation,
            status=status,
            stop_reason=stop_reason,
            cost_usd=finished.cost_usd,
            turns=finished.turns,
        )
        return finished

    def mark_interrupted_running(self, *, now: datetime | None = None) -> list[str]:
        """Mark every ``running`` run as ``interrupted`` (retryable); return their ids.

        Called once at daemon start: a run still ``running`` then lost its worker.
        """
        with self._write() as conn:
            ids = list(
                conn.execute(
                    select(runs.c.id).where(runs.c.status == "running").order_by(runs.c.id)
                ).scalars()
            )
            if ids:
                conn.execute(
                    runs.update()
                    .where(runs.c.id.in_(ids))
                    .values(
                        status="interrupted",
                        error=INTERRUPTED_ERROR,
                        retryable=True,
                        finished_at=now or utcnow(),
                    )
                )
                rollups.add_finished(conn, ids)
        if ids:
            log.warning("runs_interrupted", run_ids=ids)
        return ids

    def get_run(self, run_id: str) -> RunRecord:
        """Return the run with this id. Raises RunNotFound."""
        with self._read() as conn:
            return self._get(conn, run_id)

    def list_runs(
        self,
        *,
        automation: str | None = None,
        status: str | None = None,
        subject: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[RunRecord]:
        """Return up to ``limit`` runs, newest first, matching every filter given.

        ``subject`` is a subject key ("issue:12"). ``before`` is a run id: pass the last id
        of a page to get the next page (keyset pagination).
        """
        query = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if automation is not None:
            query = query.where(runs.c.automation == automation)
        if status is not None:
            query = query.where(runs.c.status == status)
        if subject is not None:
            query = query.where(runs.c.subject_key == subject)
        if before is not None:
            query = query.where(runs.c.id < before)
        with self._read() as conn:
            return [RunRecord.from_row(r) for r in conn.execute(query).mappings()]

    def spent_today(self, automation: str | None = None, *, now: datetime | None = None) -> float:
        """Return the USD spent by runs (of ``automation``, or all) queued since 00:00 UTC."""
        midnight = datetime.combine(as_utc(now or utcnow()).date(), time(0), tzinfo=UTC)
        query = select(func.coalesce(func.sum(runs.c.cost_usd), 0.0)).where(
            runs.c.queued_at >= midnight, runs.c.queued_at < midnight + timedelta(days=1)
        )
        if automation is not None:
            query = query.where(runs.c.automation == automation)
        with self._read() as conn:
            return float(conn.execute(query).scalar_one())

    # -- steps and usage ----------------------------------------------------------------

    def add_step(
        self,
        run_id: str,
        kind: str,
        payload: Any,
        *,
        text: str = "",
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        cost_usd: float = 0.0,
        latency_ms: float | None = None,
        now: datetime | None = None,
    ) -> int:
        """Append a step (payload: JSON-able, kept whole) to a run; return its seq (1, 2, …).

        Does not change the run's totals (see ``add_usage``). Raises RunNotFound.
        """
        with self._write() as conn:
            self._require(conn, run_id)
            last = conn.execute(
                select(func.max(steps.c.seq)).where(steps.c.run_id == run_id)
            ).scalar_one()
            seq = int(last or 0) + 1
            conn.execute(
                steps.insert().values(
                    run_id=run_id,
                    seq=seq,
                    kind=kind,
                    payload=redact_json(payload),
                    text=redact_text(text),
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    cache_read_tokens=cache_read_tokens,
                    cache_write_tokens=cache_write_tokens,
                    cost_usd=cost_usd,
                    latency_ms=latency_ms,
                    created_at=now or utcnow(),
                )
            )
            return seq

    def add_usage(self, run_id: str, usage: Usage, cost_usd: float, *, turns: int = 1) -> None:
        """Add one model call's tokens and cost (and ``turns``, 1 by default) to the run's totals.

        Raises RunNotFound.
        """
        with self._write() as conn:
            updated = conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    input_tokens=runs.c.input_tokens + usage.input_tokens,
                    output_tokens=runs.c.output_tokens + usage.output_tokens,
                    cache_read_tokens=runs.c.cache_read_tokens + usage.cache_read_input_tokens,
                    cache_write_tokens=runs.c.cache_write_tokens
                    + usage.cache_creation_input_tokens,
                    cost_usd=runs.c.cost_usd + cost_usd,
                    turns=runs.c.turns + turns,
                )
            )
            if updated.rowcount == 0:
                raise RunNotFound(run_id)
            rollups.add_cost(conn, run_id, cost_usd)  # moves a row only if the run finished

    def steps(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[StepRecord]:
        """Return the run's steps with seq > ``after_seq``, in order (for live tailing)."""
        query = (
            select(steps)
            .where(steps.c.run_id == run_id, steps.c.seq > after_seq)
            .order_by(steps.c.seq)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [StepRecord.from_row(r) for r in conn.execute(query).mappings()]

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def _get(conn: Connection, run_id: str) -> RunRecord:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None:
            raise RunNotFound(run_id)
        return RunRecord.from_row(row)

    @staticmethod
    def _require(conn: Connection, run_id: str) -> None:
        if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
            raise RunNotFound(run_id)

    @staticmethod
    def _set_running(conn: Connection, run_id: str, holder: str, stamp: datetime) -> None:
        conn.execute(
            runs.update()
            .where(runs.c.id == run_id)
            .values(status="running", holder=holder, started_at=stamp)
        )

    @staticmethod
    def _due_query(automation: str | None, stamp: datetime) -> Select[Any]:
        query = (
            select(runs)
            .where(runs.c.status == "queued")
            .where(or_(runs.c.not_before.is_(None), runs.c.not_before <= stamp))
            .order_by(runs.c.queued_at, runs.c.id)
        )
        if automation is not None:
            query = query.where(runs.c.automation == automation)
        return query
