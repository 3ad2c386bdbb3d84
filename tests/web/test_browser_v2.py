"""The story, run-against-run and map pages in a real headless Chromium (Debian's, driven by
Playwright), on a store filled the way the demo's daemon fills it. Screenshots of each page go
to test-artifacts/ (gitignored), like tests/web/test_browser.py's."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api

from factory.store import RunStore
from factory.web import build_app
from tests.web.conftest import Server
from tests.web.story_world import (
    AUTOMATIONS,
    EDITED_LINE,
    HARNESS,
    SENTRY_INJECTION,
    SLACK_INJECTION,
    World,
    build_world,
)
from tests.web.test_browser import CHROMIUM, LAUNCH_ARGS, shot

EDGES = [
    ("source:slack", "slack-intake"),
    ("slack-intake", "builder"),
    ("builder", "pr-reviewer"),
    ("source:sentry", "incident-responder"),
    ("incident-responder", "builder"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module (Debian's, never a downloaded one)."""
    if shutil.which(str(CHROMIUM)) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that records any JavaScript dialog (an injection would open one)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()


@pytest.fixture
def world(writer: RunStore) -> World:
    """The demo-like world in the writable store."""
    return build_world(writer)


@pytest.fixture
def site(world: World, db_path: Path, serve: Callable[..., Server]) -> Iterator[str]:
    """A daemon-mode viewer (the shipped automations folder) on the world, read-only."""
    with RunStore.open(db_path, readonly=True) as store:
        app = build_app(store, automations_dir=AUTOMATIONS, harness_dir=HARNESS)
        yield serve(app).url


def test_story_shows_origin_runs_pr_and_merge_in_order(page: Any, site: str) -> None:
    """The demo issue's story lists its Slack message, its runs, its PR and its merge in order."""
    page.goto(f"{site}/subjects/issue:1")
    shot(page, "story")
    labels = page.locator("#timeline tr.entry .entry-label").all_inner_texts()
    wanted = [
        "Slack message",
        "slack-intake",
        "builder",
        "open_pull_request",
        "pr-reviewer",
        "merged",
    ]
    assert [label for label in labels if label in wanted] == wanted


def test_story_clock_is_filled_to_the_merge(page: Any, site: str) -> None:
    """The clock shows a time for opened, first run, PR and merge; verified is unknown."""
    page.goto(f"{site}/subjects/issue:1")
    cells = page.locator("#clock tbody tr td:nth-child(2)").all_inner_texts()
    assert [cell != "-" for cell in cells] == [True, True, True, True, False]


def test_story_shows_injected_slack_text_as_text(page: Any, site: str) -> None:
    """The Slack message's markup is visible as text on the story; no script runs."""
    page.goto(f"{site}/subjects/issue:1")
    origin = page.locator("#origin pre").inner_text()
    assert (SLACK_INJECTION in origin, page.dialogs) == (True, [])


def test_sentry_story_shows_injected_title_as_text(page: Any, site: str) -> None:
    """A Sentry title with an onerror image is shown as text; no handler runs."""
    page.goto(f"{site}/subjects/sentry:4711")
    shot(page, "story-sentry")
    text = page.locator("#origin pre").inner_text()
    assert (SENTRY_INJECTION in text, page.locator("#origin img").count(), page.dialogs) == (
        True,
        0,
        [],
    )


def test_story_link_from_the_runs_list(page: Any, site: str, world: World) -> None:
    """Clicking a run's story link on the runs list opens its subject's story."""
    page.goto(f"{site}/runs")
    page.locator(f"#run-{world.builder} a.story-link").click()
    page.wait_for_url("**/subjects/issue%3A1")
    assert page.locator("h1").inner_text() == "The story of issue:1"


def test_compare_with_previous_version_shows_the_prompt_diff(
    page: Any, site: str, world: World
) -> None:
    """From the edited builder run, "compare with previous version" shows the prompt diff."""
    page.goto(f"{site}/runs/{world.builder_v2}")
    page.locator("a.compare-link").click()
    page.wait_for_selector("#prompt-diff")
    shot(page, "run-diff")
    added = page.locator("#prompt-diff .add").all_inner_texts()
    assert (added, page.dialogs) == ([f"+{EDITED_LINE}"], [])


def test_map_shows_the_automations_and_edges(page: Any, site: str) -> None:
    """The map draws the demo's eight automations (the disabled auditor, quality grader and
    feedback digest too) and the intake →
    builder → reviewer and Sentry → incident responder edges."""
    page.goto(f"{site}/map")
    shot(page, "map")
    nodes = sorted(page.locator("#map g.node.automation").evaluate_all(
        "els => els.map(e => e.dataset.node)"
    ))  # fmt: skip
    pairs = [
        page.locator(f'#map g[data-source="{a}"][data-target="{b}"]').count() > 0 for a, b in EDGES
    ]
    assert (nodes, pairs) == (
        [
            "auditor",
            "bug-fixer",
            "builder",
            "feedback-digest",
            "incident-responder",
            "planner",
            "post-merge-verifier",
            "pr-reviewer",
            "pr-shepherd",
            "quality-grader",
            "slack-intake",
            "triage",
        ],
        [True] * len(EDGES),
    )
