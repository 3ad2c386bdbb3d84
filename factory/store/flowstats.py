"""Read-only figures for the factory map: hand-overs per window, live runs, and waiting work.

Hand-overs are the applied outputs of each automation (by kind, with their labels) since a
time; source hand-overs are an automation's runs by the source of their event. Waiting work
is what the store last saw: subjects the factory labelled with a waiting label (e.g.
``needs-human``, ``factory:blocked``) that no later stored GitHub event shows closed or
unlabelled, and queued runs held back by a retry backoff.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from factory.store.dialect import count_true
from factory.store.runstore import RunStore
from factory.store.tables import events, outputs, runs

LABEL_KINDS = ("add_labels", "remove_labels")
MAX_WAITING = 50


@dataclass(frozen=True)
class HandOver:
    """One applied output: which automation, which kind, the labels it carried, when."""

    automation: str
    kind: str
    labels: tuple[str, ...]
    at: datetime


@dataclass(frozen=True)
class LiveCount:
    """Queued, running, and queued-but-backing-off runs of one automation."""

    queued: int = 0
    running: int = 0
    backing_off: int = 0


@dataclass(frozen=True)
class Waiting:
    """A subject the factory left waiting on a label, as the store last saw it."""

    subject_key: str
    label: str
    automation: str
    run_id: str
    since: datetime


def _labels(request: Any) -> tuple[str, ...]:
    payload = request.get("payload") if isinstance(request, dict) else None
    labels = payload.get("labels") if isinstance(payload, dict) else None
    return tuple(str(x) for x in labels) if isinstance(labels, list) else ()


class FlowQueries:
    """The map's read queries on one RunStore."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def hand_overs(self, since: datetime) -> list[HandOver]:
        """Return the outputs applied since ``since``, oldest first."""
        query = (
            select(runs.c.automation, outputs.c.kind, outputs.c.request, outputs.c.updated_at)
            .select_from(outputs.join(runs, outputs.c.run_id == runs.c.id))
            .where(outputs.c.status == "applied", outputs.c.updated_at >= since)
            .order_by(outputs.c.id)
        )
        with self.store._read() as conn:
            rows = conn.execute(query).all()
        return [HandOver(r.automation, r.kind, _labels(r.request), r.updated_at) for r in rows]

    def runs_by_source(
        self, automations: Collection[str], since: datetime, recent: datetime
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """Return (runs since ``recent``, runs since ``since``) per (automation, event source);
        a run without an event counts under "manual"."""
        counts: dict[tuple[str, str], tuple[int, int]] = {}
        source = func.coalesce(events.c.source, "manual")
        with self.store._read() as conn:
            for name in sorted(automations):
                query = (
                    select(
                        source.label("source"),
                        count_true(runs.c.queued_at >= recent).label("recent"),
                        func.count().label("total"),
                    )
                    .select_from(runs.outerjoin(events, runs.c.event_id == events.c.id))
                    .where(runs.c.automation == name, runs.c.queued_at >= since)
                    .group_by(source)
                )
                for row in conn.execute(query):
                    counts[(name, str(row.source))] = (int(row.recent or 0), int(row.total))
        return counts

    def live(self, now: datetime) -> dict[str, LiveCount]:
        """Return queued / running / backing-off counts per automation that has any."""
        backing = count_true((runs.c.status == "queued") & (runs.c.not_before > now))
        query = (
            select(
                runs.c.automation,
                count_true(runs.c.status == "queued").label("queued"),
                count_true(runs.c.status == "running").label("running"),
                backing.label("backing"),
            )
            .where(runs.c.status.in_(("queued", "running")))
            .group_by(runs.c.automation)
        )
        with self.store._read() as conn:
            return {
                str(r.automation): LiveCount(
                    int(r.queued or 0), int(r.running or 0), int(r.backing or 0)
                )
                for r in conn.execute(query)
            }

    def waiting(self, labels: Sequence[str]) -> list[Waiting]:
        """Return subjects whose last label write by the factory left one of ``labels`` on
        them, unless a later stored GitHub event about them shows it closed or without it."""
        query = (
            select(
                outputs.c.kind,
                outputs.c.request,
                outputs.c.result,
                outputs.c.updated_at,
                runs.c.automation,
                runs.c.id.label("run_id"),
                runs.c.subject_key,
            )
            .select_from(outputs.join(runs, outputs.c.run_id == runs.c.id))
            .where(outputs.c.status == "applied", outputs.c.kind.in_(LABEL_KINDS))
            .order_by(outputs.c.id)
        )
        last: dict[str, Waiting | None] = {}
        with self.store._read() as conn:
            for row in conn.execute(query):
                key = _target_key(row.request, row.subject_key)
                result = row.result if isinstance(row.result, dict) else {}
                now_on = result.get("labels")
                held = [x for x in labels if isinstance(now_on, list) and x in now_on]
                last[key] = (
                    Waiting(key, held[0], row.automation, row.run_id, row.updated_at)
                    if held
                    else None
                )
            found = [w for w in last.values() if w is not None][-MAX_WAITING:]
            if not found:
                return []
            later = conn.execute(
                select(events.c.subject_key, events.c.payload, events.c.received_at)
                .where(events.c.subject_key.in_([w.subject_key for w in found]))
                .where(events.c.source == "github")
                .order_by(events.c.id)
            ).all()
        return [w for w in found if not _cleared(w, later)]


def _target_key(request: Any, subject_key: str | None) -> str:
    target = request.get("target") if isinstance(request, dict) else None
    if subject_key and (target is None or subject_key.endswith(f":{target}")):
        return subject_key
    return f"issue:{target}"


def _cleared(wait: Waiting, later: Sequence[Any]) -> bool:
    """True when a GitHub event after the label write shows the subject closed or unlabelled."""
    for key, payload, at in later:
        if key != wait.subject_key or at <= wait.since or not isinstance(payload, dict):
            continue
        thing = payload.get("pull_request") or payload.get("issue")
        if not isinstance(thing, dict):
            continue
        if thing.get("state") == "closed":
            return True
        listed = thing.get("labels")
        names = (
            [x.get("name") for x in listed if isinstance(x, dict)]
            if isinstance(listed, list)
            else None
        )
        if names is not None and wait.label not in names:
            return True
    return False
