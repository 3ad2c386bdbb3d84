"""Daily rollups: kept in the transaction that finishes a run, equal to a rebuild from runs,
and the viewer's figures read from them equal the same figures counted run by run."""

from __future__ import annotations

import sqlite3
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from factory.events import Event, Subject
from factory.interfaces import Usage
from factory.store import MIGRATIONS, RunStore, rollups
from factory.store.metrics import MetricsQueries
from factory.store.search import FEW_SUBJECTS, SearchQueries
from factory.store.stats import StatsQueries

NOW = datetime(2026, 6, 10, 15, 30, tzinfo=UTC)


def _rows(store: RunStore) -> list[tuple[object, ...]]:
    with store._read() as conn:
        return [
            tuple(r)
            for r in conn.execute(text("SELECT * FROM run_rollups ORDER BY 1, 2, 3, 4, 5, 6"))
        ]


def _rebuilt(store: RunStore) -> list[tuple[object, ...]]:
    with store._write() as conn:
        rollups.rebuild(conn)
    return _rows(store)


def _event(store: RunStore, n: int, source: str = "github", title: str = "Fix it") -> int:
    event = Event(
        source=source, kind="issues.labeled", dedup_key=f"d-{n}",
        subject=Subject(kind="issue", number=n, title=title), actor="octocat",
        trust="maintainers", payload={},
    )  # fmt: skip
    return store.add_event(event)[0]


def _finished(
    store: RunStore, status: str, *, days_ago: float, cost: float = 0.5, **kw: object
) -> str:
    """Queue, start and finish a run ``days_ago`` before NOW with ``cost`` spent."""
    when = NOW - timedelta(days=days_ago)
    run_id = store.create_run(kw.pop("automation", "builder"), now=when, **kw)  # type: ignore[arg-type]
    store.start_run(run_id, "w", now=when)
    store.add_usage(run_id, Usage(10, 2, 0, 0), cost, turns=int(cost * 10))
    store.finish_run(
        run_id, status, stop_reason="turn limit" if status == "failed" else None, now=when
    )
    return run_id


def _mixed(store: RunStore) -> None:
    """Runs over 40 days: every final status, sources, an interrupted one, live ones."""
    for i in range(40):
        event_id = _event(store, i, source=("github", "schedule")[i % 2]) if i % 3 else None
        status = ("succeeded", "failed", "cancelled", "succeeded")[i % 4]
        _finished(store, status, days_ago=i + 0.3, cost=0.1 * (i % 7), event_id=event_id)
    store.create_run("triage", status="skipped", stop_reason="budget", now=NOW - timedelta(days=2))
    store.create_run("triage", now=NOW - timedelta(days=1))  # still queued
    crashed = store.create_run("planner", now=NOW - timedelta(days=3))
    store.start_run(crashed, "w", now=NOW - timedelta(days=3))
    store.mark_interrupted_running(now=NOW)


def test_rollups_after_finishing_runs_equal_a_rebuild(store: RunStore) -> None:
    """Every way a run gets a final status (finish, skip, interrupt) moves its rollup row."""
    _mixed(store)
    assert _rows(store) == _rebuilt(store)


def test_usage_after_a_run_finished_moves_its_rollup_cost(store: RunStore) -> None:
    """Cost added to a finished run is added to its rollup row too."""
    run_id = _finished(store, "succeeded", days_ago=1, cost=0.25)
    store.add_usage(run_id, Usage(1, 1, 0, 0), 0.5)
    assert (_rows(store), _rows(store)[0][7]) == (_rebuilt(store), 0.75)


def test_unfinished_runs_are_not_in_the_rollups(store: RunStore) -> None:
    """A queued and a running run add no rollup row (readers count them from runs)."""
    store.create_run("builder", now=NOW)
    running = store.create_run("builder", now=NOW)
    store.start_run(running, "w", now=NOW)
    store.add_usage(running, Usage(1, 1, 0, 0), 0.5)
    assert _rows(store) == []


def _scan_per_day(store: RunStore, since: datetime) -> list[tuple[str, str, float]]:
    """Runs per day and automation/status counted straight from runs (the old query)."""
    start = since.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    day = "to_char(queued_at, 'YYYY-MM-DD')" if store.url else "substr(queued_at, 1, 10)"
    sql = (
        f"SELECT {day} AS day, automation || '/' || status AS grp, COUNT(*)"  # noqa: S608
        " FROM runs WHERE queued_at >= :start GROUP BY day, automation, status ORDER BY day, grp"
    )
    with store._read() as conn:
        return [(d, g, float(n)) for d, g, n in conn.execute(text(sql), {"start": start})]


def test_factory_runs_per_day_equal_a_count_of_the_runs(store: RunStore) -> None:
    """Runs per day from rollups (whole days), the part day and live runs equal a full count."""
    _mixed(store)
    for days in (1, 7, 30, 90):
        metrics = MetricsQueries(store).factory_metrics(days=days, now=NOW)
        got = [(p.day, p.group, p.value) for p in metrics.runs_per_day]
        assert (days, got) == (days, _scan_per_day(store, NOW - timedelta(days=days)))


def test_factory_sources_and_failures_equal_a_count_of_the_runs(store: RunStore) -> None:
    """Runs by source and failures by reason over 30 days match counting the runs."""
    _mixed(store)
    metrics = MetricsQueries(store).factory_metrics(days=30, now=NOW)
    start = (NOW - timedelta(days=30)).replace(tzinfo=None).isoformat(sep=" ")
    with store._read() as conn:
        sql = (
            "SELECT COALESCE(e.source, 'none'), COUNT(*) FROM runs r LEFT JOIN events e"
            " ON e.id = r.event_id WHERE r.queued_at >= :s GROUP BY 1"
        )
        sources = dict(conn.execute(text(sql), {"s": start}).all())
        failed = conn.execute(text(
            "SELECT COUNT(*) FROM runs WHERE status IN ('failed', 'interrupted')"
            " AND queued_at >= :s"), {"s": start}).scalar_one()  # fmt: skip
    assert (metrics.runs_by_source, sum(metrics.failures_by_reason.values())) == (sources, failed)


def test_prompt_version_medians_are_over_finished_runs_only(store: RunStore) -> None:
    """Medians of turns and cost are those of the finished runs (even count), skipped left out."""
    costs = [0.1, 0.4, 0.2, 0.9]
    for cost in costs:
        _finished(store, "succeeded", days_ago=1, cost=cost, content_hash="h1")
    store.create_run("builder", content_hash="h1", status="skipped", stop_reason="budget")
    store.create_run("builder", content_hash="h1")  # queued: counted, not in the medians
    (version,) = StatsQueries(store).prompt_versions()
    expected = (6, 4, 4, statistics.median([int(c * 10) for c in costs]), statistics.median(costs))
    got = (version.runs, version.finished, version.succeeded, version.median_turns)
    assert (*got, round(version.median_cost_usd or 0, 6)) == (*expected[:4], round(expected[4], 6))


@pytest.mark.sqlite_only  # its oracle query is SQLite SQL (SUM of a boolean, ROUND of a float)
def test_prompt_version_totals_equal_a_count_of_the_runs(store: RunStore) -> None:
    """Runs, successes and cost per version from rollups plus live runs equal a full count."""
    _mixed(store)
    with store._read() as conn:
        expected = conn.execute(text(
            "SELECT automation, content_hash, COUNT(*), SUM(status = 'succeeded'),"
            " ROUND(SUM(cost_usd), 6) FROM runs GROUP BY 1, 2 ORDER BY 1, MAX(queued_at) DESC"
        )).all()  # fmt: skip
    got = [
        (v.automation, v.content_hash, v.runs, v.succeeded, round(v.total_cost_usd, 6))
        for v in StatsQueries(store).prompt_versions()
    ]
    assert got == [tuple(r) for r in expected]


def test_migration_006_builds_rollups_from_existing_runs(tmp_path: Path) -> None:
    """A store upgraded from migration 005 gets the rollup rows of the runs it already had."""
    path = tmp_path / "old.db"
    RunStore.open(path, migrations=MIGRATIONS[:5]).close()
    with sqlite3.connect(path) as conn:
        for i, status in enumerate(("succeeded", "failed", "running")):
            conn.execute(
                "INSERT INTO runs (id, automation, content_hash, prompt_snapshot, status, attempt,"
                " retryable, queued_at, input_tokens, output_tokens, cache_read_tokens,"
                " cache_write_tokens, cost_usd, turns, stop_reason) VALUES (?, 'planner', 'h',"
                " '', ?, 1, 0, '2026-01-02 03:04:06.000000', 0, 0, 0, 0, 0.25, 2, 'why')",
                (f"01OLDRUN000000000000000{i:03d}", status),
            )
    with RunStore.open(path) as store:
        assert _rows(store) == [
            ("2026-01-02", "planner", "h", "failed", "none", "why", 1, 0.25,
             "2026-01-02 03:04:06.000000", "2026-01-02 03:04:06.000000"),
            ("2026-01-02", "planner", "h", "succeeded", "none", "", 1, 0.25,
             "2026-01-02 03:04:06.000000", "2026-01-02 03:04:06.000000"),
        ]  # fmt: skip


def test_subject_search_finds_runs_by_any_title_their_subject_had(store: RunStore) -> None:
    """A run is found by a title its subject got from a later event, not only its own event's."""
    first = _event(store, 7, title="Login fails")
    run_id = store.create_run("builder", event_id=first, subject_key="issue:7")
    _event(store, 1007, title="Renamed: password reset breaks")
    store.add_event(
        Event(source="github", kind="issues.edited", dedup_key="edit-7",
              subject=Subject(kind="issue", number=7, title="Password reset breaks"),
              actor="octocat", trust="maintainers", payload={})
    )  # fmt: skip
    found = [i.run.id for i in SearchQueries(store).runs_by_subject("reset breaks")]
    assert found == [run_id]


def test_subject_search_over_many_subjects_lists_newest_runs_first(store: RunStore) -> None:
    """Past FEW_SUBJECTS matching subjects, the newest matching runs still come first."""
    ids = []
    for n in range(FEW_SUBJECTS + 5):
        event_id = _event(store, n, title=f"Parser bug {n}")
        ids.append(store.create_run("builder", event_id=event_id, subject_key=f"issue:{n}"))
    store.create_run("builder", subject_key="pull_request:1")  # matches nothing
    found = [i.run.id for i in SearchQueries(store).runs_by_subject("parser bug", limit=10)]
    assert found == ids[::-1][:10]
