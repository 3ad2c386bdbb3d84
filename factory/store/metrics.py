"""Read-only factory metrics for the viewer: runs and spend per day, sources, lead times.

Lead times are best effort from stored GitHub events: an issue's first ``issues.opened``
to its last ``issues.closed``; a pull request's first ``pull_request.opened`` to its
``pull_request.closed`` whose payload says merged. A merged factory PR (opened by the
factory's own login) "needed no human" when no ``needs-human`` label event is stored for it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from factory.events import utcnow
from factory.store.runstore import RunStore

NEEDS_HUMAN_LABEL = "needs-human"


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
        start = _naive(since)
        with self.store._read() as conn:
            per_day = conn.execute(
                text(
                    "SELECT substr(queued_at, 1, 10) AS day, automation || '/' || status AS grp,"
                    " COUNT(*) AS n, SUM(cost_usd) AS usd FROM runs WHERE queued_at >= :start"
                    " GROUP BY day, automation, status ORDER BY day, grp"
                ),
                {"start": start},
            ).all()
            sources = conn.execute(
                text(
                    "SELECT COALESCE(events.source, 'none') AS src, COUNT(*) FROM runs"
                    " LEFT JOIN events ON runs.event_id = events.id"
                    " WHERE runs.queued_at >= :start GROUP BY src ORDER BY 2 DESC"
                ),
                {"start": start},
            ).all()
            failures = conn.execute(
                text(
                    "SELECT COALESCE(stop_reason, substr(error, 1, instr(error || char(10),"
                    " char(10)) - 1), '(no reason)') AS reason, COUNT(*) FROM runs"
                    " WHERE status IN ('failed', 'interrupted') AND queued_at >= :start"
                    " GROUP BY reason ORDER BY 2 DESC LIMIT 20"
                ),
                {"start": start},
            ).all()
            lifecycle = conn.execute(
                text(
                    "SELECT subject_key, kind, received_at, by_factory,"
                    " COALESCE(json_extract(payload, '$.pull_request.merged'),"
                    " json_extract(payload, '$.merged'), 0) AS merged,"
                    " json_extract(payload, '$.label.name') AS label FROM events"
                    " WHERE subject_key IS NOT NULL AND kind IN ('issues.opened',"
                    " 'issues.closed', 'pull_request.opened', 'pull_request.closed',"
                    " 'pull_request.labeled', 'issues.labeled') ORDER BY id"
                )
            ).all()
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
    for key, kind, received, by_factory, was_merged, label in rows:
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
