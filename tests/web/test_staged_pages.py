"""The run page and its JSON list a staged run's would-be outputs."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from factory.store import RunStore

PR = {"target": None, "payload": {"title": "Fix <b>login</b>", "body": "Closes #12", "labels": []}}
COMMENT = {"target": 12, "payload": {"body": "On it."}}


@pytest.fixture
def staged_run(tmp_path: Path) -> tuple[Path, str]:
    """A store with one run that staged a pull request and a comment and applied a label."""
    path = tmp_path / "staged.db"
    with RunStore.open(path) as store:
        run = store.create_run("builder", subject_key="issue:12")
        store.record_output_intent(run, "open_pull_request", "r:pr:1", PR, status="staged")
        store.record_output_intent(run, "comment", "r:comment:1", COMMENT, status="staged")
        label, _ = store.record_output_intent(run, "add_labels", "r:labels:1", {"target": 12})
        store.mark_output(label, "applied", {}, "https://github.test/acme/w/issues/12")
    return path, run


@pytest.fixture
def client(staged_run: tuple[Path, str], client_for: Callable[..., httpx.Client]) -> httpx.Client:
    """A viewer over the staged run's store, read-only."""
    return client_for(RunStore.open(staged_run[0], readonly=True))


def test_run_json_lists_would_have_outputs(
    client: httpx.Client, staged_run: tuple[Path, str]
) -> None:
    """The run's JSON lists each staged output's kind, target and fields, and not the applied."""
    data = client.get(f"/runs/{staged_run[1]}.json").json()
    got = [(w["kind"], w["target"], w["fields"]) for w in data["would_have"]]
    assert got == [("open_pull_request", None, PR["payload"]), ("comment", 12, {"body": "On it."})]


def test_run_page_shows_would_have_section(
    client: httpx.Client, staged_run: tuple[Path, str]
) -> None:
    """The run page has a Would have section with the staged pull request's title, escaped."""
    page = client.get(f"/runs/{staged_run[1]}").text
    section = page.split('<table class="would-have">')[1].split("</table>")[0]
    assert ("Fix &lt;b&gt;login&lt;/b&gt;" in section, "On it." in section) == (True, True)


def test_run_without_staged_outputs_has_no_would_have(
    client_for: Callable[..., httpx.Client], tmp_path: Path
) -> None:
    """A live run's page has no Would have section and its JSON an empty list."""
    path = tmp_path / "live.db"
    with RunStore.open(path) as store:
        run = store.create_run("builder")
    viewer = client_for(RunStore.open(path, readonly=True))
    page, data = viewer.get(f"/runs/{run}").text, viewer.get(f"/runs/{run}.json").json()
    assert ('class="would-have"' in page, data["would_have"]) == (False, [])


LIVE = "name: builder\non:\n  - manual: {}\noutputs:\n  comment: {}\nprompt: Build it.\n"
SHADOW = "name: builder-next\nshadow_of: builder\noutputs:\n  comment: {}\nprompt: Build it anew.\n"


@pytest.fixture
def shadow_viewer(tmp_path: Path, client_for: Callable[..., httpx.Client]) -> httpx.Client:
    """A viewer over a builder (one applied comment) and its shadow (one staged comment)."""
    folder = tmp_path / "automations"
    folder.mkdir()
    (folder / "builder.yaml").write_text(LIVE)
    (folder / "builder-next.yaml").write_text(SHADOW)
    harness = shutil.copytree(Path(__file__).resolve().parents[2] / "harness", tmp_path / "h")
    path = tmp_path / "shadow.db"
    with RunStore.open(path) as store:
        live = store.create_run("builder", subject_key="issue:1")
        shadow = store.create_run("builder-next", subject_key="issue:1")
        done, _ = store.record_output_intent(live, "comment", "l:comment:1", COMMENT)
        store.mark_output(done, "applied", {}, "https://github.test/acme/w/issues/1#c1")
        store.record_output_intent(shadow, "comment", "s:comment:1", COMMENT, status="staged")
    store = RunStore.open(path, readonly=True)
    return client_for(store, automations_dir=folder, harness_dir=harness)


def test_automations_json_sets_shadow_beside_live(shadow_viewer: httpx.Client) -> None:
    """The automations JSON pairs the shadow with its live automation, done beside would-have."""
    [pair] = shadow_viewer.get("/automations.json").json()["shadows"]
    live, shadow = pair["figures"]["live"], pair["figures"]["shadow"]
    assert (pair["live"], pair["shadow"], live["applied"], shadow["staged"]) == (
        "builder",
        "builder-next",
        1,
        1,
    )


def test_automations_page_has_one_row_per_side(shadow_viewer: httpx.Client) -> None:
    """The automations page's Live and shadow table has a live row and a shadow row."""
    page = shadow_viewer.get("/automations").text
    table = page.split('<table class="shadows">')[1].split("</table>")[0]
    assert (table.count('class="shadow-live"'), table.count('class="shadow-shadow"')) == (1, 1)
