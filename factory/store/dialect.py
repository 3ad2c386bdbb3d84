"""SQL spelled once for SQLite and translated for PostgreSQL, for the store's raw SQL strings.

The store's hand-written SQL (rollups, metrics) is SQLite's; ``portable(sql, dialect)``
returns it unchanged for SQLite and rewrites the few SQLite-only spellings for PostgreSQL:
a timestamp's day (``substr(x, 1, 10)``), ``instr``/``char``, scalar ``min``/``max`` in an
upsert, and ``json_extract(col, '$.a.b')`` (as text: ``col::jsonb #>> '{a,b}'``).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, case, func, not_

_PG_LITERAL: tuple[tuple[str, str], ...] = (
    ("substr(r.queued_at, 1, 10)", "to_char(r.queued_at, 'YYYY-MM-DD')"),
    ("instr(r.error || char(10), char(10))", "strpos(r.error || chr(10), chr(10))"),
    ("runs = runs + excluded.runs", "runs = run_rollups.runs + excluded.runs"),
    (
        "cost_usd = cost_usd + excluded.cost_usd",
        "cost_usd = run_rollups.cost_usd + excluded.cost_usd",
    ),
    (
        "min(first_queued, excluded.first_queued)",
        "LEAST(run_rollups.first_queued, excluded.first_queued)",
    ),
    (
        "max(last_queued, excluded.last_queued)",
        "GREATEST(run_rollups.last_queued, excluded.last_queued)",
    ),
)
_PG_BOOL = "CASE ({}) WHEN 'true' THEN 1 WHEN 'false' THEN 0 END"
_PG_LITERAL += (
    (
        "COALESCE(json_extract(payload, '$.pull_request.merged'), json_extract(payload,"
        " '$.merged'), 0)",
        "COALESCE("
        + _PG_BOOL.format("payload::jsonb #>> '{pull_request,merged}'")
        + ", "
        + _PG_BOOL.format("payload::jsonb #>> '{merged}'")
        + ", 0)",
    ),
)
_JSON_EXTRACT = re.compile(r"json_extract\(([\w.]+), '\$\.([\w.]+)'\)")


def _pg_json(match: re.Match[str]) -> str:
    path = ",".join(match.group(2).split("."))
    return f"({match.group(1)}::jsonb #>> '{{{path}}}')"


def portable(sql: str, dialect: str) -> str:
    """Return ``sql`` (written for SQLite) as the ``dialect`` database spells it."""
    if dialect != "postgresql":
        return sql
    for sqlite, pg in _PG_LITERAL:
        sql = sql.replace(sqlite, pg)
    return _JSON_EXTRACT.sub(_pg_json, sql)


def count_true(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    """``SUM(condition)`` as SQLite counts it (1 per true row, NULL rows skipped), portably:
    PostgreSQL has no ``sum(boolean)``."""
    return func.sum(case((condition, 1), (not_(condition), 0)))
