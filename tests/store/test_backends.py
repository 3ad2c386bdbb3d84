"""Behaviour both backends must share: search, the work watch, read-only connections, URLs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from factory.errors import StoreError
from factory.store import RunStore
from factory.store.compare import CompareQueries
from factory.store.search import SearchQueries
from factory.store.tables import metadata
from factory.store.watch import WorkWatch


def test_step_search_finds_every_word_and_quotes_operators(
    store: RunStore, make_run: Callable[..., str]
) -> None:
    """Search returns the step holding every word; operator words are searched as text."""
    run_id = make_run()
    store.add_step(run_id, "tool_result", {}, text="the quick brown fox or not")
    store.add_step(run_id, "tool_result", {}, text="the quick red fox")
    hits = SearchQueries(store).steps("brown fox or")
    assert [(h.run_id, h.seq) for h in hits] == [(run_id, 1)]


def test_work_watch_sees_a_run_queued_by_another_connection(store: RunStore, db_path: Path) -> None:
    """A run queued through a second store makes the watch report a change and work."""
    watch = WorkWatch(store)
    try:
        assert (watch.changed(), watch.work_waiting()) == (False, False)
        with RunStore.open(db_path) as other:
            other.create_run("builder", subject_key="issue:1")
        assert (watch.changed(), watch.work_waiting()) == (True, True)
    finally:
        watch.close()


@pytest.mark.postgres
def test_postgres_readonly_connection_cannot_write_even_with_raw_sql(postgres_url: str) -> None:
    """A read-only PostgreSQL store's own connections refuse a raw DELETE."""
    RunStore.open(postgres_url).close()
    with (
        RunStore.open(postgres_url, readonly=True) as ro,
        ro._engine.connect() as conn,
        pytest.raises(Exception, match="read-only transaction"),
    ):
        conn.exec_driver_sql("DELETE FROM runs")


@pytest.mark.postgres
def test_postgres_url_error_hides_the_password(postgres_server: object) -> None:
    """An unreachable PostgreSQL URL raises StoreError without the password in it."""
    url = "postgresql+psycopg://u:hunter2-secret@/nodb?host=/nonexistent-socket-dir"
    with pytest.raises(StoreError) as raised:
        RunStore.open(url)
    assert ("hunter2-secret" in str(raised.value), "***" in str(raised.value)) == (False, True)


def test_output_that_made_finds_the_pull_request_by_number(
    store: RunStore, make_run: Callable[..., str]
) -> None:
    """The applied output whose JSON result names pull request 7 is found, not PR 70's."""
    run_id = make_run()
    for number in (7, 70):
        output_id, _ = store.record_output_intent(run_id, "open_pull_request", f"k{number}", {})
        store.mark_output(output_id, "applied", {"number": number})
    found = store.output_that_made("open_pull_request", 7)
    assert (found.result if found else None) == {"number": 7}


def test_tool_uses_count_failed_results_from_the_json_flag(
    store: RunStore, make_run: Callable[..., str]
) -> None:
    """A tool result with ``is_error: true`` counts as a failure, one with false does not."""
    run_id = make_run()
    store.add_step(run_id, "tool_call", {"name": "bash"})
    store.add_step(run_id, "tool_result", {"name": "bash", "is_error": True})
    store.add_step(run_id, "tool_result", {"name": "bash", "is_error": False})
    uses = CompareQueries(store).tool_uses(run_id)
    assert [(u.name, u.calls, u.failures) for u in uses] == [("bash", 1, 1)]


@pytest.mark.postgres
def test_postgres_migrated_schema_matches_the_table_definitions(postgres_url: str) -> None:
    """On PostgreSQL every table, column, type family, nullability and index in tables.py
    exists after migrating, and no more (besides the search index over steps.text)."""
    RunStore.open(postgres_url).close()
    engine = create_engine(postgres_url)
    try:
        inspector = inspect(engine)
        in_db = {
            t: (
                {
                    (c["name"], c["type"]._type_affinity, c["nullable"])
                    for c in inspector.get_columns(t)
                },
                {
                    i["name"]
                    for i in inspector.get_indexes(t)
                    if "duplicates_constraint" not in i  # a UNIQUE constraint's own index
                }
                - {"ix_steps_text_tsv"},
            )
            for t in inspector.get_table_names()
        }
    finally:
        engine.dispose()
    declared = {
        t.name: (
            {
                (c.name, c.type._type_affinity, bool(c.nullable) and not c.primary_key)
                for c in t.columns
            },
            {i.name for i in t.indexes},
        )
        for t in metadata.sorted_tables
    }
    assert in_db == declared


@pytest.mark.postgres
def test_postgres_durable_write_commits_with_synchronous_commit_on(postgres_url: str) -> None:
    """A durable write runs with synchronous_commit on (the test server's default is off);
    an ordinary write keeps the server's default."""
    with RunStore.open(postgres_url) as store:
        with store._write(durable=True) as conn:
            durable = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
        with store._write() as conn:
            ordinary = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
    assert (durable, ordinary) == ("on", "off")
