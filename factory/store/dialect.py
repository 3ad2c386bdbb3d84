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
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

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


class json_value(FunctionElement[Any]):  # noqa: N801  (used like func.json_extract)
    """``json_extract(column, '$.a.b')`` on SQLite; on PostgreSQL the same value by ``kind``:
    ``"text"`` (``#>>``), ``"int"`` (a JSON number as INTEGER, else NULL) or ``"flag"``
    (a JSON boolean as 1/0, as SQLite's json_extract returns it)."""

    inherit_cache = True
    name = "json_value"

    def __init__(self, column: ColumnElement[Any], path: str, kind: str = "text") -> None:
        if kind not in ("text", "int", "flag"):
            raise ValueError(f"json_value kind must be text, int or flag, got {kind!r}")
        if not re.fullmatch(r"\$(\.\w+)+", path):
            raise ValueError(f"json_value path must be $.key[.key…], got {path!r}")
        self.path, self.kind = path, kind
        super().__init__(column)


@compiles(json_value)
def _json_value_sqlite(element: json_value, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"json_extract({column}, '{element.path}')"


@compiles(json_value, "postgresql")
def _json_value_pg(element: json_value, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    keys = ",".join(element.path.split(".")[1:])
    value = f"(({column})::jsonb #>> '{{{keys}}}')"
    if element.kind == "flag":
        return f"(CASE {value} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)"
    if element.kind == "int":
        typed = f"jsonb_typeof(({column})::jsonb #> '{{{keys}}}')"
        return f"(CASE WHEN {typed} = 'number' THEN CAST({value} AS INTEGER) END)"
    return value
