"""Live parts of the viewer: a running run's steps come a page at a time and only after the
last seq seen, and what the pollers ask of the store is index lookups, never a scan."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from factory.store import RunStore
from factory.web import build_app
from factory.web.pages_runs import STEP_PAGE
from tests.web.conftest import Server
from tests.web.test_browser import WAIT_MS, browser, page, shot

__all__ = ["browser", "page"]  # the browser fixtures, used by the last test

STEPS = STEP_PAGE + 5


@pytest.fixture
def live_run(writer: RunStore) -> str:
    """A running run with STEP_PAGE + 5 steps, and a finished run of another automation."""
    run_id = writer.create_run("builder", subject_key="issue:3")
    writer.start_run(run_id, "worker-1")
    for n in range(STEPS):
        writer.add_step(run_id, "tool_result", {"content": f"out {n}"}, text=f"output line {n}")
    done = writer.create_run("triage", subject_key="issue:4")
    writer.start_run(done, "worker-2")
    writer.finish_run(done, "failed", stop_reason="turn limit")
    return run_id


@pytest.fixture
def live_reader(db_path: Path, live_run: str) -> Iterator[RunStore]:
    """The viewer's read-only store on the database holding the live run."""
    with RunStore.open(db_path, readonly=True) as store:
        yield store


@pytest.fixture
def live_client(live_reader: RunStore, client_for: Callable[..., httpx.Client]) -> httpx.Client:
    """A client on a viewer of the live run."""
    return client_for(live_reader)


def _plans(store: RunStore, db_path: Path, request: Callable[[], Any]) -> list[str]:
    """Run ``request``; return the query plan lines of every statement it sent the store."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(store._engine, "before_cursor_execute", record)
    try:
        request()
    finally:
        event.remove(store._engine, "before_cursor_execute", record)
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        return [
            str(row[3])
            for statement, parameters in sent
            if statement.lstrip().upper().startswith("SELECT")
            for row in conn.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        ]


def _full_work(plans: list[str]) -> list[str]:
    """The plan lines that read a whole table or index, or sort rows in a temporary b-tree."""
    return [p for p in plans if p.startswith("SCAN") or "TEMP B-TREE" in p]


def test_run_page_shows_the_first_page_of_steps_and_loads_the_rest(
    live_client: httpx.Client, live_run: str
) -> None:
    """The page renders STEP_PAGE steps and a loader fetching the steps after them at once."""
    page = live_client.get(f"/runs/{live_run}").text
    loader = f'hx-get="/runs/{live_run}/steps?after={STEP_PAGE}" hx-trigger="load"'
    assert (page.count('class="step '), loader in page) == (STEP_PAGE, True)


def test_steps_after_the_first_page_end_with_the_live_poller(
    live_client: httpx.Client, live_run: str
) -> None:
    """The fragment after the first page holds the last steps and the 1 s poller of a live run."""
    fragment = live_client.get(f"/runs/{live_run}/steps", params={"after": STEP_PAGE}).text
    poller = f'hx-get="/runs/{live_run}/steps?after={STEPS}" hx-trigger="every 1s"'
    assert (fragment.count('class="step '), poller in fragment) == (5, True)


def test_run_json_pages_its_steps_with_next_after(live_client: httpx.Client, live_run: str) -> None:
    """The run's JSON holds STEP_PAGE steps and next_after; after it, the rest and no next."""
    first = live_client.get(f"/runs/{live_run}.json").json()
    rest = live_client.get(f"/runs/{live_run}.json", params={"after": first["next_after"]}).json()
    seqs = [s["seq"] for s in first["steps"] + rest["steps"]]
    assert (first["next_after"], rest["next_after"], seqs) == (
        STEP_PAGE,
        None,
        list(range(1, STEPS + 1)),
    )


def test_poll_returns_only_the_step_stored_since_the_last_seen(
    live_client: httpx.Client, live_run: str, writer: RunStore
) -> None:
    """A poll after the last seq seen brings back exactly the step stored since."""
    writer.add_step(live_run, "model_response", {"response": {}}, text="a fresh step")
    fragment = live_client.get(f"/runs/{live_run}/steps", params={"after": STEPS}).text
    assert (fragment.count('class="step '), f'id="step-{STEPS + 1}"' in fragment) == (1, True)


def test_step_poll_reads_only_the_new_steps_by_index(
    live_client: httpx.Client, live_run: str, live_reader: RunStore, db_path: Path
) -> None:
    """The once-a-second step poll neither scans nor sorts: every query is an index lookup."""
    plans = _plans(
        live_reader,
        db_path,
        lambda: live_client.get(f"/runs/{live_run}/steps", params={"after": STEPS - 1}),
    )
    assert (bool(plans), _full_work(plans)) == (True, [])


@pytest.mark.parametrize("query", ["status=running", "status=failed", "automation=builder"])
def test_runs_poll_with_a_filter_reads_by_index(
    live_client: httpx.Client, live_reader: RunStore, db_path: Path, query: str
) -> None:
    """The 2 s runs-table poll with a status or automation filter neither scans nor sorts."""
    plans = _plans(live_reader, db_path, lambda: live_client.get(f"/runs/rows?{query}"))
    assert (bool(plans), _full_work(plans)) == (True, [])


def test_search_links_a_step_past_the_first_page_to_the_page_starting_with_it(
    live_client: httpx.Client, live_run: str
) -> None:
    """A hit on a step past the first page links to the run page that shows that step."""
    hits = live_client.get("/search.json", params={"q": f"output line {STEPS - 1}"}).json()
    url = next(h["url"] for h in hits["steps"] if h["seq"] == STEPS)
    page = live_client.get(url.split("#")[0]).text
    assert (url, f'id="step-{STEPS}"' in page) == (
        f"/runs/{live_run}?after={STEPS - 1}#step-{STEPS}",
        True,
    )


def test_browser_loads_every_page_of_steps_after_the_first(
    page: Any,
    live_reader: RunStore,
    live_run: str,
    writer: RunStore,
    serve: Callable[..., Server],
) -> None:
    """In Chromium a finished run's page fetches the steps past the first page by itself."""
    writer.finish_run(live_run, "succeeded")  # no live poller: only the loader can fetch them
    site = serve(build_app(live_reader)).url
    page.goto(f"{site}/runs/{live_run}")
    page.wait_for_selector(f"#step-{STEPS}", timeout=WAIT_MS)
    shot(page, "run-paged-steps")
    ids = page.locator("section.step").evaluate_all("els => els.map(e => e.id)")
    assert ids == [f"step-{n}" for n in range(1, STEPS + 1)]
