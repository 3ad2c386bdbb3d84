"""list_runs: filters and keyset pagination, newest first."""

from __future__ import annotations

from collections.abc import Callable

from factory.store import RunStore


def test_list_runs_is_newest_first(store: RunStore, make_run: Callable[..., str]) -> None:
    """Runs come back in reverse creation order."""
    ids = [make_run() for _ in range(3)]
    assert [r.id for r in store.list_runs()] == ids[::-1]


def test_list_runs_filters_by_automation(store: RunStore, make_run: Callable[..., str]) -> None:
    """Only runs of the given automation are listed."""
    make_run("planner")
    wanted = make_run("builder")
    assert [r.id for r in store.list_runs(automation="builder")] == [wanted]


def test_list_runs_filters_by_status(store: RunStore, make_run: Callable[..., str]) -> None:
    """Only runs in the given status are listed."""
    running = make_run()
    make_run()
    store.start_run(running, "w")
    assert [r.id for r in store.list_runs(status="running")] == [running]


def test_list_runs_filters_by_subject(store: RunStore, make_run: Callable[..., str]) -> None:
    """Only runs about the given subject key are listed."""
    wanted = make_run(subject_key="pull_request:7")
    make_run(subject_key="issue:7")
    assert [r.id for r in store.list_runs(subject="pull_request:7")] == [wanted]


def test_list_runs_combines_filters(store: RunStore, make_run: Callable[..., str]) -> None:
    """Filters combine with AND."""
    make_run("builder", subject_key="issue:1")
    make_run("planner", subject_key="issue:2")
    wanted = make_run("builder", subject_key="issue:2")
    assert [r.id for r in store.list_runs(automation="builder", subject="issue:2")] == [wanted]


def test_pagination_walks_every_run_once(store: RunStore, make_run: Callable[..., str]) -> None:
    """Following ``before`` from page to page yields every run once, newest first."""
    ids = [make_run() for _ in range(7)]
    seen: list[str] = []
    before: str | None = None
    while page := store.list_runs(limit=3, before=before):
        seen += [r.id for r in page]
        before = page[-1].id
    assert seen == ids[::-1]


def test_limit_caps_the_page(store: RunStore, make_run: Callable[..., str]) -> None:
    """At most ``limit`` runs come back."""
    for _ in range(4):
        make_run()
    assert len(store.list_runs(limit=2)) == 2
