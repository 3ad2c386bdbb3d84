"""The viewer in a real headless Chromium (Debian's, driven by Playwright): pages, live, Run now.

Skipped with a reason when /usr/bin/chromium or the playwright package is absent (the
Makefile installs both). Screenshots of each page go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api

from factory.store import RunStore
from factory.web import build_app
from tests.web.conftest import Seeded, Server, manual_enqueuer

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module (never a downloaded browser).

    Fails (does not skip) when Debian's chromium is missing: `make test` installs it.
    """
    if shutil.which(str(CHROMIUM)) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(reader: RunStore, db_path: Path, serve: Callable[..., Server]) -> str:
    """A daemon-mode viewer (read-only store, Run now wired to a writer) on the seed."""
    return serve(build_app(reader, enqueue_manual=manual_enqueuer(db_path))).url


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page that records any JavaScript dialog (an injection would open one)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot to test-artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_runs_page_lists_the_runs(page: Any, site: str) -> None:
    """The runs page shows one row per run."""
    page.goto(f"{site}/runs")
    shot(page, "runs")
    assert page.locator("tr.run").count() == 3


def test_runs_page_refreshes_a_running_row(
    page: Any, site: str, seeded: Seeded, writer: RunStore
) -> None:
    """A running run that finishes while the runs page is open shows its new status."""
    page.goto(f"{site}/runs")
    writer.finish_run(seeded.running, "succeeded", stop_reason="model ended its turn")
    badge = page.locator(f"#run-{seeded.running} .badge")
    badge.filter(has_text="succeeded").wait_for(timeout=WAIT_MS)
    assert badge.inner_text() == "succeeded"


def test_runs_filter_by_automation(page: Any, site: str, seeded: Seeded) -> None:
    """Choosing an automation and pressing Filter leaves only its runs."""
    page.goto(f"{site}/runs")
    page.select_option("select[name=automation]", "triage")
    page.click("#run-filters button[type=submit]")
    page.wait_for_url("**automation=triage**")
    shot(page, "runs-filtered")
    assert page.locator("tr.run").all_inner_texts()[0].startswith(seeded.other)


def test_open_a_run_shows_its_steps_and_no_injection_runs(
    page: Any, site: str, seeded: Seeded
) -> None:
    """Clicking a run opens its transcript; the injected markup shows as text, runs nothing."""
    page.goto(f"{site}/runs")
    page.click(f"a[href='/runs/{seeded.finished}']")
    page.wait_for_selector("#step-6")
    shot(page, "run")
    title = page.locator(".run-header .subject-title").inner_text()
    assert ("<script>alert(1)</script>" in title, page.dialogs) == (True, [])


def test_expand_a_folded_tool_result(page: Any, site: str, seeded: Seeded) -> None:
    """Clicking a folded tool result's summary shows its whole text."""
    page.goto(f"{site}/runs/{seeded.finished}")
    folded = page.locator("#step-4 details.fold")
    folded.locator("summary").click()
    page.wait_for_selector("#step-4 details.fold[open]")
    shot(page, "run-expanded")
    assert "line 59 of a long tool output" in folded.locator("pre").inner_text()


def test_live_run_receives_a_new_step(
    page: Any, site: str, seeded: Seeded, writer: RunStore
) -> None:
    """A step appended while the run's page is open appears on it without a reload."""
    page.goto(f"{site}/runs/{seeded.running}")
    page.wait_for_selector("#step-poller", state="attached")
    writer.add_step(seeded.running, "tool_result", {"content": "fresh"}, text="a fresh step")
    page.wait_for_selector("#step-2", timeout=WAIT_MS)
    shot(page, "run-live")
    assert "a fresh step" in page.locator("#step-2").inner_text()


def test_run_now_shows_the_queued_run(page: Any, site: str) -> None:
    """Pressing Run now queues a manual run and shows it as queued."""
    page.goto(f"{site}/automations")
    shot(page, "automations")
    page.locator("#automation-builder button", has_text="Run now").click()
    page.wait_for_url("**/runs/*")
    shot(page, "run-queued")
    assert page.locator("#run-status").inner_text() == "queued"


def test_factory_page_renders_charts(page: Any, site: str) -> None:
    """The factory page draws its SVG charts."""
    page.goto(f"{site}/factory")
    shot(page, "factory")
    assert page.locator("figure.chart svg").count() == 4
