"""Read-only factory metrics for the viewer: runs and spend per day, sources, lead times.

Lead times are best effort from stored GitHub events: an issue's first ``issues.opened``
to its last ``issues.closed``; a pull request's first ``pull_request.opened`` to its
``pull_request.closed`` whose payload says merged. A merged factory PR (opened by the
factory's own login) "needed no human" when no ``needs-human`` label event is stored for it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import TextClause, text

from factory.events import utcnow
from factory.store import rollups
from factory.store.dialect import portable
from factory.store.runstore import RunStore

NEEDS_HUMAN_LABEL = "needs-human"


def sql(raw: str, dialect: str) -> TextClause:
    """``raw`` (SQLite's spelling) as a statement for ``dialect``."""
    return text(portable(raw, dialect))


@dataclass(frozen=True)
class DayCount:
    """One bar segment: a day, a group (automation/outcome) and a number."""

    day: str
    group: str
    value: float


@dataclass(frozen=True)
class FactoryMetrics:
    """Everything the factory page shows."""

    since: datetime
    runs_per_day: list[DayCount]
    """Runs per day and ``automation/status``."""
    spend_per_day: list[DayCount]
    """USD per day (group "all")."""
    runs_by_source: dict[str, int]
    """Runs per trigger source ("none" for runs without an event)."""
    failures_by_reason: dict[str, int]
    """Failed or interrupted runs per stop reason (first line of the error when none)."""
    issue_to_close_s: float | None
    """Median seconds from issue opened to closed."""
    issues_closed: int
    pr_to_merge_s: float | None
    """Median seconds from pull request opened to merged."""
    prs_merged: int
    factory_prs_merged: int
    factory_prs_without_human: int

    @property
    def no_human_share(self) -> float | None:
        """Share of merged factory PRs that never got the needs-human label, or None."""
        if not self.factory_prs_merged:
            return None
        return self.factory_prs_without_human / self.factory_prs_merged


_PER_DAY_SQL = """SELECT day, automation || '/' || status AS grp, SUM(n), SUM(usd) FROM w
GROUP BY day, automation, status ORDER BY day, grp"""
_SOURCES_SQL = "SELECT source, SUM(n) FROM w GROUP BY source ORDER BY 2 DESC"
_FAILURES_SQL = """SELECT reason, SUM(n) FROM w WHERE status IN ('failed', 'interrupted')
GROUP BY reason ORDER BY 2 DESC LIMIT 20"""
_LIFECYCLE_SQL = f"""
SELECT id, subject_key, kind, received_at, by_factory,
  COALESCE(json_extract(payload, '$.pull_request.merged'), json_extract(payload, '$.merged'), 0),
  NULL FROM events WHERE subject_key IS NOT NULL AND kind IN ('issues.opened', 'issues.closed',
  'pull_request.opened', 'pull_request.closed')
UNION ALL
SELECT id, subject_key, kind, received_at, by_factory, 0, json_extract(payload, '$.label.name')
FROM events WHERE kind IN ('pull_request.labeled', 'issues.labeled') AND subject_key IN (
  SELECT subject_key FROM events WHERE kind = 'pull_request.opened')
  AND json_extract(payload, '$.label.name') = '{NEEDS_HUMAN_LABEL}'
ORDER BY id
"""  # noqa: S608  (a constant)
"""Issue and pull request lifecycle events, and needs-human labels on pull requests (the
only labels the figures use), by ``ix_events_kind_subject``."""


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _naive(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


class MetricsQueries:
    """Factory-wide figures from one RunStore."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def factory_metrics(self, *, days: int = 30, now: datetime | None = None) -> FactoryMetrics:
        """Return the metrics for runs queued in the last ``days`` days (events: all time)."""
        since = (now or utcnow()) - timedelta(days=days)
        whole = datetime.combine(since.astimezone(UTC).date() + timedelta(days=1), time(0), UTC)
        window = {
            "start": _naive(since),
            "whole_start": _naive(whole),
            "whole_day": whole.date().isoformat(),
        }
        with self.store._read() as conn:
            dialect = conn.dialect.name
            per_day = conn.execute(sql(rollups.WINDOW_SQL + _PER_DAY_SQL, dialect), window).all()
            sources = conn.execute(sql(rollups.WINDOW_SQL + _SOURCES_SQL, dialect), window).all()
            # Materialized: pushed into the union, the status test would pick ix_runs_status_id
            # over the part day's ix_runs_queued_at range.
            materialized = rollups.WINDOW_SQL.replace(" AS (", " AS MATERIALIZED (", 1)
            failures = conn.execute(sql(materialized + _FAILURES_SQL, dialect), window).all()
            lifecycle = conn.execute(sql(_LIFECYCLE_SQL, dialect)).all()
        spend: dict[str, float] = {}
        for day, _grp, _n, usd in per_day:
            spend[day] = spend.get(day, 0.0) + float(usd or 0.0)
        lead = _lead_times(lifecycle)
        return FactoryMetrics(
            since=since,
            runs_per_day=[DayCount(day, grp, float(n)) for day, grp, n, _usd in per_day],
            spend_per_day=[DayCount(day, "all", usd) for day, usd in sorted(spend.items())],
            runs_by_source={str(src): int(n) for src, n in sources},
            failures_by_reason={str(reason): int(n) for reason, n in failures},
            **lead,
        )


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _lead_times(rows: Any) -> dict[str, Any]:
    opened: dict[str, datetime] = {}
    closed: dict[str, datetime] = {}
    pr_opened: dict[str, tuple[datetime, bool]] = {}
    merged: dict[str, datetime] = {}
    needs_human: set[str] = set()
    for _id, key, kind, received, by_factory, was_merged, label in rows:
        when = _when(received)
        if kind == "issues.opened":
            opened.setdefault(key, when)
        elif kind == "issues.closed":
            closed[key] = when
        elif kind == "pull_request.opened":
            pr_opened.setdefault(key, (when, bool(by_factory)))
        elif kind == "pull_request.closed" and was_merged in (1, True, "true"):
            merged[key] = when
        elif kind.endswith(".labeled") and label == NEEDS_HUMAN_LABEL:
            needs_human.add(key)
    issue_times = [(closed[k] - t).total_seconds() for k, t in opened.items() if k in closed]
    pr_times = [(merged[k] - t).total_seconds() for k, (t, _f) in pr_opened.items() if k in merged]
    factory_merged = [k for k, (_t, by_factory) in pr_opened.items() if by_factory and k in merged]
    return {
        "issue_to_close_s": _median(issue_times),
        "issues_closed": len(issue_times),
        "pr_to_merge_s": _median(pr_times),
        "prs_merged": len(pr_times),
        "factory_prs_merged": len(factory_merged),
        "factory_prs_without_human": len([k for k in factory_merged if k not in needs_human]),
    }
