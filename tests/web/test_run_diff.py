"""Run against run (/runs/A/diff/B and .json) on a store filled the way the demo fills it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from factory.store import RunStore
from tests.web.conftest import TOKEN
from tests.web.story_world import (
    EDITED_LINE,
    PROMPT_LINE,
    TOOL_INJECTION,
    World,
    build_world,
    converse,
)


@pytest.fixture
def world(writer: RunStore) -> World:
    """The demo-like world in the writable store."""
    return build_world(writer)


@pytest.fixture
def web(
    world: World, db_path: Path, client_for: Callable[..., httpx.Client]
) -> Iterator[httpx.Client]:
    """A standalone viewer on the world, read-only."""
    with RunStore.open(db_path, readonly=True) as store:
        yield client_for(store)


def _diff(web: httpx.Client, world: World) -> dict[str, object]:
    answer = web.get(f"/runs/{world.builder}/diff/{world.builder_v2}.json").json()
    assert isinstance(answer, dict)
    return answer


def test_prompt_diff_shows_the_changed_line(web: httpx.Client, world: World) -> None:
    """Two builder runs of different versions: the prompt diff removes one line, adds one."""
    lines = _diff(web, world)["prompt_diff"]
    assert isinstance(lines, list)
    changed = [x for x in lines if x[:1] in "+-" and not x.startswith(("+++", "---"))]
    assert changed == [f"-{PROMPT_LINE}", f"+{EDITED_LINE}"]


def test_yaml_diff_is_indented_like_the_file(web: httpx.Client, world: World) -> None:
    """The YAML diff shows the same change at the YAML's indentation."""
    lines = _diff(web, world)["yaml_diff"]
    assert isinstance(lines, list)
    assert [x for x in lines if x.startswith("+") and not x.startswith("+++")] == [
        f"+  {EDITED_LINE}"
    ]


def test_same_version_runs_have_no_prompt_diff(web: httpx.Client, world: World) -> None:
    """A run against itself: same version, empty diffs, no divergence."""
    answer = web.get(f"/runs/{world.builder}/diff/{world.builder}.json").json()
    assert (answer["same_version"], answer["prompt_diff"], answer["first_divergence"]) == (
        True,
        [],
        None,
    )


def test_tools_counted_with_failures(web: httpx.Client, world: World) -> None:
    """Tools are counted per run, failed results apart."""
    tools = _diff(web, world)["b"]["tools"]  # type: ignore[index]
    assert tools == [
        {"name": "bash", "calls": 1, "failures": 0},
        {"name": "editor", "calls": 1, "failures": 1},
    ]


def test_model_and_cache_share(web: httpx.Client, world: World) -> None:
    """Model comes from the run's YAML; cache share is cache reads over prompt tokens."""
    a = _diff(web, world)["a"]
    assert isinstance(a, dict)
    assert (a["model"], a["cache_share"]) == ("claude-sonnet-5", 600 / 1500)


def test_first_divergent_step(web: httpx.Client, world: World) -> None:
    """The conversations part at the first model response (their texts differ)."""
    found = _diff(web, world)["first_divergence"]
    assert isinstance(found, dict)
    assert (found["a"]["text"], found["b"]["text"]) == ("Fixing mean().", "Adding median().")


def test_outcomes_side_by_side(web: httpx.Client, world: World) -> None:
    """Each side carries its run's outcome."""
    answer = _diff(web, world)
    assert (answer["a"]["run"]["status"], answer["b"]["run"]["status"]) == (  # type: ignore[index]
        "succeeded",
        "failed",
    )


def test_diff_of_an_unknown_run_is_404(web: httpx.Client, world: World) -> None:
    """An unknown run id on either side answers 404."""
    assert web.get(f"/runs/{world.builder}/diff/NOPE").status_code == 404


def test_diff_page_shows_the_prompt_diff(web: httpx.Client, world: World) -> None:
    """The HTML page lists the added prompt line in the prompt diff section."""
    html = web.get(f"/runs/{world.builder}/diff/{world.builder_v2}").text
    section = html.split('id="prompt-diff"')[1].split("</section>")[0]
    assert f'<span class="add">+{EDITED_LINE}</span>' in section


def test_diff_page_escapes_a_tool_result(writer: RunStore, web: httpx.Client, world: World) -> None:
    """A tool result with markup, where two conversations part, is shown as escaped text."""
    replay = writer.create_run("builder", subject_key="issue:1")
    writer.start_run(replay, "worker-2")
    converse(writer, replay, 60, "Fixing mean().", "2 passed")
    html = web.get(f"/runs/{world.builder}/diff/{replay}").text
    shown = html.split('id="divergence"')[1].split("</section>")[0]
    assert (TOOL_INJECTION in html, "&lt;svg onload=alert(&#39;tool&#39;)&gt;" in shown) == (
        False,
        True,
    )


def test_run_page_links_to_the_previous_version(web: httpx.Client, world: World) -> None:
    """The run under the edited prompt links to a diff against the run before the edit."""
    html = web.get(f"/runs/{world.builder_v2}").text
    assert f'href="/runs/{world.builder}/diff/{world.builder_v2}"' in html


def test_run_page_without_an_earlier_version_has_no_compare_link(
    web: httpx.Client, world: World
) -> None:
    """The first builder run has no earlier version to compare with."""
    assert "compare with previous version" not in web.get(f"/runs/{world.builder}").text


def test_run_page_links_to_the_story(web: httpx.Client, world: World) -> None:
    """A run page links its subject's story."""
    assert 'href="/subjects/issue%3A1"' in web.get(f"/runs/{world.builder}").text


def test_runs_list_links_to_the_story(web: httpx.Client) -> None:
    """Each row of the runs list links its subject's story."""
    assert 'href="/subjects/issue%3A1"' in web.get("/runs").text


def test_diff_needs_the_token(
    world: World, db_path: Path, client_for: Callable[..., httpx.Client]
) -> None:
    """Behind a viewer token the diff refuses a request without it and serves one with it."""
    with RunStore.open(db_path, readonly=True) as store:
        web = client_for(store, token=TOKEN)
        path = f"/runs/{world.builder}/diff/{world.builder_v2}"
        codes = (
            web.get(path).status_code,
            web.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code,
        )
    assert codes == (401, 200)
