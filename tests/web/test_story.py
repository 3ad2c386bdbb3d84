"""The story of a subject (/subjects/KEY and .json) on a store filled the way the demo's
daemon fills it: origin, runs, outputs, PR, merge, in time order, with the clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from factory.events import Event, Subject
from factory.store import RunStore
from tests.web.conftest import CANARY, TOKEN
from tests.web.story_world import (
    SENTRY_INJECTION,
    SLACK_INJECTION,
    THREAD,
    TOOL_INJECTION,
    World,
    at,
    build_world,
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


def _labels(story: dict[str, object]) -> list[tuple[str, str]]:
    entries = story["entries"]
    assert isinstance(entries, list)
    return [(e["kind"], e["label"]) for e in entries]


def test_issue_story_spans_thread_issue_and_pull_request(web: httpx.Client) -> None:
    """The issue's story takes in the Slack thread it came from and the PR it led to."""
    story = web.get("/subjects/issue:1.json").json()
    assert story["subjects"] == ["issue:1", "pull_request:2", f"slack:{THREAD}"]


def test_issue_story_origin_is_the_slack_thread(web: httpx.Client) -> None:
    """The origin of an issue filed from Slack is its thread."""
    assert web.get("/subjects/issue:1.json").json()["origin"] == f"slack:{THREAD}"


def test_issue_story_runs_in_order(web: httpx.Client, world: World) -> None:
    """The runs of the story come in time order: intake, builder, reviewer."""
    runs = [r["id"] for r in web.get("/subjects/issue:1.json").json()["runs"]]
    assert runs == [world.intake, world.builder, world.reviewer]


def test_issue_story_milestones_in_order(web: httpx.Client) -> None:
    """Slack message, then the builder's PR output, then the merge, in the timeline's order."""
    labels = _labels(web.get("/subjects/issue:1.json").json())
    order = [
        labels.index(x)
        for x in [("event", "Slack message"), ("output", "open_pull_request"), ("event", "merged")]
    ]
    assert order == sorted(order)


def test_issue_story_clock(web: httpx.Client) -> None:
    """The clock reads opened → first run → PR → merge from the stored times."""
    clock = {c["milestone"]: c["at"] for c in web.get("/subjects/issue:1.json").json()["clock"]}
    expected = [at(0), at(0.2), at(5.05), at(30), None]
    assert [clock[k] for k in ("opened", "first_run", "pull_request", "merged", "verified")] == [
        x.isoformat() if x else None for x in expected
    ]


def test_pull_request_story_reaches_its_slack_origin(web: httpx.Client) -> None:
    """A PR's story goes up through its issue to the thread the work came from."""
    assert web.get("/subjects/pull_request:2.json").json()["origin"] == f"slack:{THREAD}"


def test_slack_story_reaches_the_merge(web: httpx.Client) -> None:
    """The thread's story follows the issue it filed to the merged PR."""
    labels = _labels(web.get(f"/subjects/slack:{THREAD}.json").json())
    assert ("event", "merged") in labels


def test_issue_story_leaves_out_sibling_work(web: httpx.Client) -> None:
    """Another issue (#3) is not part of issue #1's story."""
    assert "issue:3" not in web.get("/subjects/issue:1.json").json()["subjects"]


def _unlinked_pull(writer: RunStore) -> None:
    """Queue a builder run on issue:5 that opens PR #9, with no lineage link between them."""
    run = writer.create_run("builder", subject_key="issue:5")
    writer.start_run(run, "worker-1")
    output_id, _ = writer.record_output_intent(
        run, "open_pull_request", f"{run}:pr", {"target": None, "payload": {"title": "x"}}
    )
    writer.mark_output(output_id, "applied", {"number": 9}, "https://github.com/acme/sample/pull/9")


def test_issue_story_finds_the_pull_request_its_run_opened(
    writer: RunStore, web: httpx.Client
) -> None:
    """A PR the builder opened is in its issue's story though no link names it."""
    _unlinked_pull(writer)
    assert web.get("/subjects/issue:5.json").json()["subjects"] == ["issue:5", "pull_request:9"]


def test_pull_request_story_finds_the_issue_its_opener_ran_on(
    writer: RunStore, web: httpx.Client
) -> None:
    """A PR's story goes up to the subject of the run whose output opened it."""
    _unlinked_pull(writer)
    assert web.get("/subjects/pull_request:9.json").json()["subjects"] == [
        "issue:5",
        "pull_request:9",
    ]


def test_sentry_story_shows_the_sentry_issue(web: httpx.Client) -> None:
    """A Sentry subject's story opens with the Sentry issue event."""
    labels = _labels(web.get("/subjects/sentry:4711.json").json())
    assert labels[0] == ("event", "Sentry new issue")


def test_unknown_subject_is_404(web: httpx.Client) -> None:
    """A subject the store knows nothing about answers 404."""
    assert web.get("/subjects/issue:999").status_code == 404


def test_malformed_subject_key_is_400(web: httpx.Client) -> None:
    """A key that is not a subject key answers 400."""
    assert web.get("/subjects/nonsense").status_code == 400


@pytest.mark.parametrize(
    ("key", "payload"),
    [
        ("issue:1", SLACK_INJECTION),
        ("sentry:4711", SENTRY_INJECTION),
    ],
    ids=["slack-message", "sentry-title"],
)
def test_story_page_escapes_stored_text(web: httpx.Client, key: str, payload: str) -> None:
    """A Slack message and a Sentry title with markup are shown escaped, never as markup."""
    html = web.get(f"/subjects/{key}").text
    assert (payload in html, payload.replace("<", "&lt;").replace(">", "&gt;")[:12] in html) == (
        False,
        True,
    )


def test_story_json_escapes_markup(web: httpx.Client) -> None:
    """The .json twin carries markup only as \\u escapes."""
    body = web.get("/subjects/issue:1.json").text
    assert ("<script>" in body, "\\u003cscript\\u003e" in body) == (False, True)


def test_story_page_links_each_run(web: httpx.Client, world: World) -> None:
    """The timeline links every run of the story."""
    html = web.get("/subjects/issue:1").text
    assert [f'href="/runs/{r}"' in html for r in (world.intake, world.builder, world.reviewer)] == [
        True,
        True,
        True,
    ]


def test_story_shows_no_secret(writer: RunStore, web: httpx.Client) -> None:
    """A secret in a stored Slack message is not on the story page nor its twin."""
    writer.add_event(
        Event(source="slack", kind="app_mention", dedup_key="slack:Ev-secret",
              subject=Subject(kind="slack", thread=THREAD), trust="maintainers",
              payload={"text": f"my key is {CANARY}"})
    )  # fmt: skip
    pages = (
        web.get(f"/subjects/slack:{THREAD}").text + web.get(f"/subjects/slack:{THREAD}.json").text
    )
    assert (pages.count(CANARY), pages.count("my key is")) == (0, 2)


def test_story_needs_the_token_off_loopback(
    world: World, db_path: Path, client_for: Callable[..., httpx.Client]
) -> None:
    """With a viewer token, the story page refuses a request without it and serves one with it."""
    with RunStore.open(db_path, readonly=True) as store:
        web = client_for(store, token=TOKEN)
        codes = (
            web.get("/subjects/issue:1.json").status_code,
            web.get(
                "/subjects/issue:1.json", headers={"Authorization": f"Bearer {TOKEN}"}
            ).status_code,
        )
    assert codes == (401, 200)


def test_tool_result_text_is_not_on_the_story(web: httpx.Client) -> None:
    """The story shows runs, not their transcripts: a tool result's text stays on the run page."""
    assert TOOL_INJECTION not in web.get("/subjects/issue:1").text
