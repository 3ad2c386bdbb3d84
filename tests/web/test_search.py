"""Search: FTS5 over step text (kept in sync by triggers), subjects, errors."""

from __future__ import annotations

import httpx
import pytest

from factory.store import RunStore
from factory.store.search import SearchQueries, fts_query
from tests.web.conftest import Seeded


def test_text_search_finds_the_step(client: httpx.Client, seeded: Seeded) -> None:
    """Words from an agent message find that step."""
    steps = client.get("/search.json", params={"q": "fix it"}).json()["steps"]
    assert [(s["run_id"], s["seq"]) for s in steps] == [(seeded.finished, 2)]


def test_text_search_sees_steps_added_later(writer: RunStore, seeded: Seeded) -> None:
    """A step appended after the migration is searchable at once (insert trigger)."""
    writer.add_step(seeded.running, "tool_result", {}, text="zebracorn appeared")
    hits = SearchQueries(writer).steps("zebracorn")
    assert [(h.run_id, h.seq) for h in hits] == [(seeded.running, 2)]


def test_text_search_forgets_deleted_runs(writer: RunStore, seeded: Seeded) -> None:
    """Steps removed with their run leave the index (delete trigger)."""
    with writer._write() as conn:
        conn.exec_driver_sql("DELETE FROM steps WHERE run_id = ?", (seeded.running,))
    assert SearchQueries(writer).steps("thinking") == []


@pytest.mark.parametrize("words", ['"', "AND OR", "text:foo", "NEAR(", "*", 'a"b'], ids=str)
def test_fts_syntax_in_a_query_is_searched_as_text(writer: RunStore, words: str) -> None:
    """FTS5 operators and stray quotes in a query never raise."""
    assert SearchQueries(writer).steps(words) == []


def test_fts_query_quotes_every_term() -> None:
    """Each word becomes a quoted FTS5 string."""
    assert fts_query('fix "it" now') == '"fix" "it" "now"'


def test_search_page_marks_the_match(client: httpx.Client) -> None:
    """The snippet's matched words are wrapped in <mark>."""
    assert "<mark>thinking</mark>" in client.get("/search", params={"q": "thinking"}).text


def test_subject_search_by_key(client: httpx.Client, seeded: Seeded) -> None:
    """in=subject with a subject key finds that subject's runs."""
    runs = client.get("/search.json", params={"q": "issue:14", "in": "subject"}).json()["runs"]
    assert [r["id"] for r in runs] == [seeded.other]


def test_subject_search_by_title(client: httpx.Client, seeded: Seeded) -> None:
    """in=subject with words of a title finds the runs about it."""
    runs = client.get("/search.json", params={"q": "Fix login", "in": "subject"}).json()["runs"]
    assert [r["id"] for r in runs] == [seeded.finished]


def test_error_search(client: httpx.Client, seeded: Seeded) -> None:
    """in=error finds runs by words of their error or stop reason."""
    runs = client.get("/search.json", params={"q": "run_usd", "in": "error"}).json()["runs"]
    assert [r["id"] for r in runs] == [seeded.other]


def test_unknown_scope_is_a_400(client: httpx.Client) -> None:
    """in= other than text, subject or error is refused."""
    assert client.get("/search", params={"q": "x", "in": "nope"}).status_code == 400
