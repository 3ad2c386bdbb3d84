"""Worker heartbeats in the shared store: who is alive, and who takes over a dead one's runs.

Each ``factoryd worker`` writes its row (id = its DBOS executor id) every few seconds; a
row older than the lapse names a dead worker. ``take_dead`` hands each dead worker to exactly
one live one: the delete of its row is conditional on the row still being stale, so of two
workers that see the same dead one, one deletes the row (and recovers its workflows) and the
other deletes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from factory.events import utcnow
from factory.store.runstore import RunStore
from factory.store.tables import workers

DEAD = datetime(1970, 1, 1, tzinfo=UTC)
"""The beat a worker leaves when it stops on purpose: it counts as dead at once."""


def beat(store: RunStore, worker_id: str, role: str = "worker", at: datetime | None = None) -> None:
    """Record that ``worker_id`` is alive now (or at ``at``)."""
    when = at or utcnow()
    with store._write() as conn:
        done = conn.execute(update(workers).where(workers.c.id == worker_id).values(beat_at=when))
        if done.rowcount == 0:
            conn.execute(workers.insert().values(id=worker_id, role=role, beat_at=when))


def alive(store: RunStore, lapse_s: float) -> list[str]:
    """Return the ids of workers that beat within the last ``lapse_s`` seconds."""
    cutoff = utcnow() - timedelta(seconds=lapse_s)
    with store._read() as conn:
        rows = conn.execute(select(workers.c.id).where(workers.c.beat_at >= cutoff))
        return sorted(r[0] for r in rows)


def take_dead(store: RunStore, lapse_s: float, *, me: str) -> list[str]:
    """Return the dead workers (no beat for ``lapse_s``) this caller now owns the recovery of.

    Each dead worker is returned to one caller only: its row is deleted in the same step.
    """
    cutoff = utcnow() - timedelta(seconds=lapse_s)
    with store._read() as conn:
        stale = [
            r[0]
            for r in conn.execute(
                select(workers.c.id).where(workers.c.beat_at < cutoff, workers.c.id != me)
            )
        ]
    taken: list[str] = []
    for worker_id in stale:
        with store._write() as conn:
            gone = conn.execute(
                delete(workers).where(workers.c.id == worker_id, workers.c.beat_at < cutoff)
            )
            if gone.rowcount == 1:
                taken.append(worker_id)
    return taken
