"""Read-only search for the viewer: conversation text (FTS5 over steps.text), subjects, errors.

The user's words are quoted term by term before they reach FTS5's MATCH, so FTS5 syntax
(``AND``, ``NEAR``, ``col:``, stray quotes) in a query is searched for as text, never parsed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, or_, select, text

from factory.store.runstore import RunStore
from factory.store.stats import RunItem, StatsQueries
from factory.store.tables import runs

_TERM = re.compile(r"[^\s\"]+")
RANK_POOL = 500
"""How many of the newest matching steps are ranked."""
FEW_SUBJECTS = 200
"""Up to this many matching subjects, their runs are looked up by key; past it, runs are
scanned newest first (dense matches fill a page quickly)."""


@dataclass(frozen=True)
class StepHit:
    """One step whose text matches (the whole text: the viewer scrubs, then cuts a snippet)."""

    run_id: str
    automation: str
    seq: int
    kind: str
    text: str


def websearch_query(words: str) -> str | None:
    """Return a ``websearch_to_tsquery`` input requiring every word (each quoted, so ``or``,
    ``-`` and the like are searched for as text), or None if empty."""
    terms = _TERM.findall(words)
    if not terms:
        return None
    return " ".join(f'"{t}"' for t in terms)


_PG_STEPS_SQL = (
    "SELECT steps.run_id, runs.automation, steps.seq, steps.kind, steps.text"
    " FROM (SELECT id, ts_rank(to_tsvector('simple', text), q) AS rank"
    " FROM steps, websearch_to_tsquery('simple', :match) AS q"
    " WHERE to_tsvector('simple', text) @@ q ORDER BY id DESC LIMIT :pool) AS hits"
    " JOIN steps ON steps.id = hits.id JOIN runs ON runs.id = steps.run_id"
    " ORDER BY hits.rank DESC, hits.id DESC LIMIT :limit"
)
"""PostgreSQL: the same ranking among the newest RANK_POOL matches, by the GIN expression
index of migration 003 (``to_tsvector('simple', text)``), rank = ts_rank."""


def fts_query(words: str) -> str | None:
    """Return an FTS5 MATCH expression requiring every word (each quoted), or None if empty."""
    terms = _TERM.findall(words)
    if not terms:
        return None
    return " ".join('"' + t.replace('"', '""') + '"' for t in terms)


class SearchQueries:
    """Search over one RunStore."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def steps(self, words: str, *, limit: int = 50) -> list[StepHit]:
        """Return up to ``limit`` steps whose text has every word, best match first.

        Ranked (bm25) among the newest RANK_POOL matches: every match of a rare word, the
        latest ones of a common word (ranking all of a million matches costs seconds).
        """
        postgres = self.store.url is not None
        match = websearch_query(words) if postgres else fts_query(words)
        if match is None:
            return []
        sql = (
            text(_PG_STEPS_SQL)
            if postgres
            else text(
                "SELECT steps.run_id, runs.automation, steps.seq, steps.kind, steps.text"
                " FROM (SELECT rowid, rank FROM steps_fts WHERE steps_fts MATCH :match"
                " ORDER BY rowid DESC LIMIT :pool) AS hits"
                " JOIN steps ON steps.id = hits.rowid JOIN runs ON runs.id = steps.run_id"
                " ORDER BY hits.rank, hits.rowid DESC LIMIT :limit"
            )
        )
        params = {"match": match, "limit": limit, "pool": RANK_POOL}
        with self.store._read() as conn:
            rows = conn.execute(sql, params).all()
        return [StepHit(r[0], r[1], r[2], r[3], r[4] or "") for r in rows]

    def runs_by_subject(self, words: str, *, limit: int = 50) -> list[RunItem]:
        """Return runs whose subject key contains ``words`` or whose subject was ever given
        a title (by any stored event) containing it, newest first."""
        needle = words.strip()
        if not needle:
            return []
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        like = "ILIKE" if self.store.url is not None else "LIKE"  # SQLite's LIKE ignores case
        keys_sql = text(
            f"SELECT subject_key FROM runs WHERE subject_key {like} :p ESCAPE '\\'"  # noqa: S608
            " GROUP BY subject_key UNION"
            f" SELECT subject_key FROM subject_titles WHERE title {like} :p ESCAPE '\\'"
        )
        with self.store._read() as conn:
            keys = [str(k) for (k,) in conn.execute(keys_sql, {"p": pattern})]
        if not keys:
            return []
        if len(keys) <= FEW_SUBJECTS or self.store.url is not None:  # by ix_runs_subject_key_id
            query = self._items().where(runs.c.subject_key.in_(keys))
        else:  # newest runs first, each checked against the keys, until the page is full
            each = func.json_each(json.dumps(keys)).table_valued("value")
            unindexed: ColumnElement[str] = literal_column(
                "+runs.subject_key"
            )  # unary +: no index for this term
            query = self._items().where(unindexed.in_(select(each.c.value)))
        return self._run(query.limit(limit))

    def runs_by_error(self, words: str, *, limit: int = 50) -> list[RunItem]:
        """Return runs whose error or stop reason contains ``words``, newest first."""
        needle = words.strip()
        if not needle:
            return []
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        if self.store.url is not None:  # PostgreSQL's LIKE is case-sensitive, SQLite's is not
            condition = or_(
                runs.c.error.ilike(pattern, escape="\\"),
                runs.c.stop_reason.ilike(pattern, escape="\\"),
            )
        else:
            condition = or_(
                runs.c.error.like(pattern, escape="\\"),
                runs.c.stop_reason.like(pattern, escape="\\"),
            )
        query = self._items().where(condition)
        return self._run(query.limit(limit))

    @staticmethod
    def _items() -> Select[Any]:
        return StatsQueries._items_query().order_by(runs.c.id.desc())

    def _run(self, query: Select[Any]) -> list[RunItem]:
        with self.store._read() as conn:
            return [StatsQueries._item(row) for row in conn.execute(query).mappings()]
