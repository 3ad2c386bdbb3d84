"""Read-only search for the viewer: conversation text (FTS5 over steps.text), subjects, errors.

The user's words are quoted term by term before they reach FTS5's MATCH, so FTS5 syntax
(``AND``, ``NEAR``, ``col:``, stray quotes) in a query is searched for as text, never parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, text

from factory.store.runstore import RunStore
from factory.store.stats import RunItem, StatsQueries
from factory.store.tables import events, runs

_TERM = re.compile(r"[^\s\"]+")


@dataclass(frozen=True)
class StepHit:
    """One step whose text matches (the whole text: the viewer scrubs, then cuts a snippet)."""

    run_id: str
    automation: str
    seq: int
    kind: str
    text: str


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
        """Return up to ``limit`` steps whose text has every word, best match first."""
        match = fts_query(words)
        if match is None:
            return []
        sql = text(
            "SELECT steps.run_id, runs.automation, steps.seq, steps.kind, steps.text"
            " FROM steps_fts JOIN steps ON steps.id = steps_fts.rowid"
            " JOIN runs ON runs.id = steps.run_id"
            " WHERE steps_fts MATCH :match ORDER BY rank LIMIT :limit"
        )
        params = {"match": match, "limit": limit}
        with self.store._read() as conn:
            rows = conn.execute(sql, params).all()
        return [StepHit(r[0], r[1], r[2], r[3], r[4] or "") for r in rows]

    def runs_by_subject(self, words: str, *, limit: int = 50) -> list[RunItem]:
        """Return runs whose subject key equals ``words`` or whose subject title contains it."""
        needle = words.strip()
        if not needle:
            return []
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = self._items().where(
            or_(
                runs.c.subject_key == needle,
                runs.c.subject_key.like(pattern, escape="\\"),
                events.c.subject["title"].as_string().like(pattern, escape="\\"),
            )
        )
        return self._run(query.limit(limit))

    def runs_by_error(self, words: str, *, limit: int = 50) -> list[RunItem]:
        """Return runs whose error or stop reason contains ``words``, newest first."""
        needle = words.strip()
        if not needle:
            return []
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = self._items().where(
            or_(
                runs.c.error.like(pattern, escape="\\"),
                runs.c.stop_reason.like(pattern, escape="\\"),
            )
        )
        return self._run(query.limit(limit))

    @staticmethod
    def _items() -> Select[Any]:
        return StatsQueries._items_query().order_by(runs.c.id.desc())

    def _run(self, query: Select[Any]) -> list[RunItem]:
        with self.store._read() as conn:
            return [StatsQueries._item(row) for row in conn.execute(query).mappings()]
