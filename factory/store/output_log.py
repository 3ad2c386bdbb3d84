"""The outputs part of the store: intent recorded before acting, result recorded after.

The idempotency key is unique: asking twice for the same output (a retried run) finds the
first row instead of making a second, so the caller can reconcile rather than repeat.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from factory.errors import RunNotFound, StoreError
from factory.events import utcnow
from factory.store.base import StoreBase
from factory.store.records import OutputRecord
from factory.store.redaction import redact_json, redact_text
from factory.store.tables import OUTPUT_STATUSES, outputs, runs


class OutputLog(StoreBase):
    """Methods on the outputs table."""

    def record_output_intent(
        self,
        run_id: str,
        kind: str,
        idempotency_key: str,
        request: dict[str, Any],
        *,
        status: str = "intent",
        now: datetime | None = None,
    ) -> tuple[int, OutputRecord | None]:
        """Record that run ``run_id`` is about to perform an output (``status`` intent), or
        that it would have (``staged``: a row reconcile never performs).

        Returns (new output id, None), or (existing id, existing record) when the
        idempotency key was recorded before. Raises RunNotFound for an unknown run,
        ValueError for a status other than intent or staged.
        """
        if status not in ("intent", "staged"):
            raise ValueError(f"output status {status!r} is not one of ('intent', 'staged')")
        stamp = now or utcnow()
        with self._write() as conn:
            row = (
                conn.execute(select(outputs).where(outputs.c.idempotency_key == idempotency_key))
                .mappings()
                .first()
            )
            if row is not None:
                return int(row["id"]), OutputRecord.from_row(row)
            if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
                raise RunNotFound(run_id)
            result = conn.execute(
                outputs.insert().values(
                    run_id=run_id,
                    kind=kind,
                    idempotency_key=idempotency_key,
                    request=redact_json(request),
                    status=status,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
            pk = result.inserted_primary_key
            assert pk is not None
            return int(pk[0]), None

    def mark_output(
        self,
        output_id: int,
        status: str,
        result: dict[str, Any] | None = None,
        url: str | None = None,
        *,
        now: datetime | None = None,
    ) -> None:
        """Record how an output ended: applied, refused or failed (with result and url).

        Raises ValueError for an unknown status, StoreError for an unknown output id.
        """
        if status not in OUTPUT_STATUSES:
            raise ValueError(f"output status {status!r} is not one of {OUTPUT_STATUSES}")
        with self._write() as conn:
            updated = conn.execute(
                outputs.update()
                .where(outputs.c.id == output_id)
                .values(
                    status=status,
                    result=redact_json(result),
                    url=redact_text(url),
                    updated_at=now or utcnow(),
                )
            )
            if updated.rowcount == 0:
                raise StoreError(f"output {output_id} not found in run store {self.where}")

    def pending_output_intents(self) -> list[OutputRecord]:
        """Return outputs still at ``intent`` (maybe performed before a crash), oldest first."""
        query = select(outputs).where(outputs.c.status == "intent").order_by(outputs.c.id)
        with self._read() as conn:
            return [OutputRecord.from_row(r) for r in conn.execute(query).mappings()]

    def outputs_for_run(self, run_id: str) -> list[OutputRecord]:
        """Return the run's outputs in the order they were requested."""
        query = select(outputs).where(outputs.c.run_id == run_id).order_by(outputs.c.id)
        with self._read() as conn:
            return [OutputRecord.from_row(r) for r in conn.execute(query).mappings()]

    def outputs_in_scope(self, scope: str) -> list[OutputRecord]:
        """Return the outputs whose idempotency key starts with ``scope:`` (every attempt of
        one run), in the order they were requested."""
        prefix = scope.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ":%"
        query = (
            select(outputs)
            .where(outputs.c.idempotency_key.like(prefix, escape="\\"))
            .order_by(outputs.c.id)
        )
        with self._read() as conn:
            return [OutputRecord.from_row(r) for r in conn.execute(query).mappings()]
