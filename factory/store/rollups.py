"""Daily rollups of finished runs: what the factory and automations pages add up.

One ``run_rollups`` row per (day queued, automation, content hash, final status, trigger
source, failure reason) holds the number of runs, their cost and their first and last
queued time. A run enters its row in the same write transaction that gives it a final
status (``RunStore.finish_run``, ``mark_interrupted_running``, a skipped ``create_run``);
cost added to a finished run moves its row too. Migration 006 built the rows of the runs
that existed then; ``rebuild`` does it again (bulk loads). Runs still queued or running are
never in a rollup: readers add them from ``runs`` (few rows, by ``ix_runs_status_id``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, text

from factory.store.dialect import portable

FINISHED_SQL = "('succeeded', 'failed', 'cancelled', 'interrupted', 'skipped')"
"""The final statuses, as an SQL list (tables.FINISHED_STATUSES)."""

REASON_SQL = (
    "CASE WHEN r.status IN ('failed', 'interrupted') THEN substr(COALESCE(r.stop_reason,"
    " substr(r.error, 1, instr(r.error || char(10), char(10)) - 1), '(no reason)'), 1, 200)"
    " ELSE '' END"
)
"""A failed or interrupted run's reason: its stop reason, else its error's first line."""

KEY_SQL = (
    "substr(r.queued_at, 1, 10), r.automation, r.content_hash, r.status,"
    f" COALESCE(e.source, 'none'), {REASON_SQL}"
)
"""A run's rollup key, over ``runs r LEFT JOIN events e``."""

_ADD_SQL = f"""
INSERT INTO run_rollups (day, automation, content_hash, status, source, reason, runs,
  cost_usd, first_queued, last_queued)
SELECT {KEY_SQL}, COUNT(*), SUM(r.cost_usd), MIN(r.queued_at), MAX(r.queued_at)
FROM runs r LEFT JOIN events e ON e.id = r.event_id
WHERE r.status IN {FINISHED_SQL} AND {{where}}
GROUP BY 1, 2, 3, 4, 5, 6
ON CONFLICT (day, automation, status, content_hash, source, reason) DO UPDATE SET
  runs = runs + excluded.runs, cost_usd = cost_usd + excluded.cost_usd,
  first_queued = min(first_queued, excluded.first_queued),
  last_queued = max(last_queued, excluded.last_queued)
"""  # noqa: S608  (built from this module's constants only)

_COST_SQL = f"""
UPDATE run_rollups SET cost_usd = cost_usd + :delta
WHERE (day, automation, content_hash, status, source, reason) = (
  SELECT {KEY_SQL} FROM runs r LEFT JOIN events e ON e.id = r.event_id
  WHERE r.id = :run_id AND r.status IN {FINISHED_SQL})
"""  # noqa: S608  (built from this module's constants only)


def add_finished(conn: Connection, run_ids: Sequence[str]) -> None:
    """Add the runs ``run_ids`` (just given a final status) to their rollup rows.

    Call inside the write transaction that finished them; unfinished ids are ignored.
    """
    if not run_ids:
        return
    raw = portable(_ADD_SQL.format(where="r.id IN :ids"), conn.dialect.name)
    sql = text(raw).bindparams(bindparam("ids", expanding=True))
    conn.execute(sql, {"ids": list(run_ids)})


def add_cost(conn: Connection, run_id: str, delta_usd: float) -> None:
    """Move a finished run's rollup row by ``delta_usd`` (usage recorded after it finished)."""
    if delta_usd:
        conn.execute(
            text(portable(_COST_SQL, conn.dialect.name)), {"delta": delta_usd, "run_id": run_id}
        )


def rebuild(conn: Connection) -> None:
    """Recompute every rollup row from ``runs`` (after rows were inserted behind the store)."""
    conn.exec_driver_sql("DELETE FROM run_rollups")
    conn.exec_driver_sql(portable(_ADD_SQL.format(where="1 = 1"), conn.dialect.name))


WINDOW_SQL = f"""
WITH w(day, automation, content_hash, status, source, reason, n, usd) AS (
  SELECT day, automation, content_hash, status, source, reason, runs, cost_usd
  FROM run_rollups WHERE day >= :whole_day
  UNION ALL
  SELECT {KEY_SQL}, 1, r.cost_usd FROM runs r LEFT JOIN events e ON e.id = r.event_id
  WHERE r.queued_at >= :start AND r.queued_at < :whole_start
  UNION ALL
  SELECT {KEY_SQL}, 1, r.cost_usd FROM runs r LEFT JOIN events e ON e.id = r.event_id
  WHERE r.status IN ('queued', 'running') AND r.queued_at >= :whole_start
)
"""  # noqa: S608  (built from this module's constants only)
"""Every run queued since ``:start`` as rollup-shaped rows ``w``: whole days (from
``:whole_start``, the first midnight after ``:start``) from the rollups plus their live runs;
the part day before it from ``runs`` itself (by ``ix_runs_queued_at``)."""

VERSIONS_SQL = """
WITH v(automation, content_hash, n, ok, usd, first, last) AS (
  SELECT automation, content_hash, SUM(runs), SUM(CASE WHEN status = 'succeeded' THEN runs END),
    SUM(cost_usd), MIN(first_queued), MAX(last_queued) FROM run_rollups GROUP BY 1, 2
  UNION ALL
  SELECT automation, content_hash, COUNT(*), 0, SUM(cost_usd), MIN(queued_at), MAX(queued_at)
  FROM runs WHERE status IN ('queued', 'running') GROUP BY 1, 2
)
SELECT automation, content_hash, SUM(n), SUM(ok), SUM(usd), MIN(first), MAX(last)
FROM v GROUP BY 1, 2 ORDER BY 1, 7 DESC
"""
"""Runs, successes, cost, first and last queued per (automation, content hash): rollups
plus the runs not finished yet."""

FINISHED_OF_VERSION_SQL = """
SELECT COUNT(*) FROM runs WHERE automation = :automation AND content_hash = :content_hash
AND status IN ('succeeded', 'failed', 'cancelled', 'interrupted')
"""

MIDDLE_SQL = """
SELECT {column} FROM runs WHERE automation = :automation AND content_hash = :content_hash
AND status IN ('succeeded', 'failed', 'cancelled', 'interrupted')
ORDER BY {column} LIMIT :take OFFSET :skip
"""
"""The middle one or two values of a version's finished runs, read off a partial index."""
