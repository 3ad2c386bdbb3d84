"""The factory map (/map and .json): automations and hand-over edges from the YAML, counts
from the store, live runs, and where work waits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from factory.store import RunStore
from tests.web.conftest import TOKEN
from tests.web.story_world import AUTOMATIONS, HARNESS, World, build_world

INTAKE_TO_BUILDER = ("slack-intake", "builder", "add_labels → issues.labeled factory:ready")


@pytest.fixture
def world(writer: RunStore) -> World:
    """The demo-like world in the writable store."""
    return build_world(writer)


@pytest.fixture
def web(
    world: World, db_path: Path, client_for: Callable[..., httpx.Client]
) -> Iterator[httpx.Client]:
    """A daemon-mode viewer (the shipped automations folder) on the world, read-only."""
    with RunStore.open(db_path, readonly=True) as store:
        yield client_for(store, automations_dir=AUTOMATIONS, harness_dir=HARNESS)


def _edges(answer: dict[str, object]) -> dict[tuple[str, str, str], tuple[int, int]]:
    edges = answer["edges"]
    assert isinstance(edges, list)
    return {(e["source"], e["target"], e["via"]): (e["last_24h"], e["last_7d"]) for e in edges}


def test_map_lists_the_shipped_automations(web: httpx.Client) -> None:
    """Every automation of the folder is a node."""
    names = [a["name"] for a in web.get("/map.json").json()["automations"]]
    assert sorted(names) == [
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
    ]


def test_map_edge_from_a_label_to_its_trigger(web: httpx.Client) -> None:
    """slack-intake's factory:ready label is builder's trigger: an edge, counted once."""
    assert _edges(web.get("/map.json").json())[INTAKE_TO_BUILDER] == (1, 1)


def test_map_edge_from_a_pull_request_to_the_reviewer(web: httpx.Client) -> None:
    """builder's pull request is pr-reviewer's trigger: an edge, counted once."""
    edge = ("builder", "pr-reviewer", "open_pull_request → pull_request.opened")
    assert _edges(web.get("/map.json").json())[edge] == (1, 1)


def test_map_edge_from_slack(web: httpx.Client) -> None:
    """Slack mentions start slack-intake: a source edge counting its Slack-caused runs."""
    assert _edges(web.get("/map.json").json())[("source:slack", "slack-intake", "slack")] == (1, 1)


def test_map_edge_into_a_sweep(web: httpx.Client) -> None:
    """builder's sweep selects factory:ready issues: slack-intake's label feeds it too."""
    edge = ("slack-intake", "builder", "add_labels factory:ready → sweep")
    assert _edges(web.get("/map.json").json())[edge] == (1, 1)


def test_map_counts_live_runs(writer: RunStore, web: httpx.Client) -> None:
    """A queued and a running builder run show on the builder's node counts."""
    writer.create_run("builder", subject_key="issue:8")
    running = writer.create_run("builder", subject_key="issue:9")
    writer.start_run(running, "worker-1")
    builder = next(a for a in web.get("/map.json").json()["automations"] if a["name"] == "builder")
    assert (builder["queued"], builder["running"]) == (1, 1)


def test_map_shows_work_waiting_on_a_blocked_label(web: httpx.Client, world: World) -> None:
    """Issue 3, labelled factory:blocked by the builder, waits."""
    waiting = web.get("/map.json").json()["waiting"]
    assert [(w["subject_key"], w["label"], w["run_id"]) for w in waiting] == [
        ("issue:3", "factory:blocked", world.builder_v2)
    ]


def test_a_later_close_clears_the_wait(writer: RunStore, web: httpx.Client) -> None:
    """A stored issues.closed event after the label write takes the issue off the list."""
    from factory.events import Event, Subject

    writer.add_event(
        Event(source="github", kind="issues.closed", dedup_key="gh-closed-3",
              subject=Subject(kind="issue", number=3), trust="maintainers",
              payload={"issue": {"number": 3, "state": "closed"}})
    )  # fmt: skip
    assert web.get("/map.json").json()["waiting"] == []


def test_standalone_map_reads_the_yaml_from_the_runs(
    world: World, db_path: Path, client_for: Callable[..., httpx.Client]
) -> None:
    """Without the folder the map uses each automation's newest run's YAML: same edge."""
    with RunStore.open(db_path, readonly=True) as store:
        answer = client_for(store).get("/map.json").json()
    assert (answer["read_from"], _edges(answer)[INTAKE_TO_BUILDER]) == ("runs", (1, 1))


def test_map_page_draws_nodes_and_edges(web: httpx.Client) -> None:
    """The HTML map is an inline SVG with a node per shipped automation (the disabled auditor,
    quality grader and feedback digest among them) and the intake → builder edge."""
    html = web.get("/map").text
    svg = html.split("<svg")[1].split("</svg>")[0]
    found = (
        svg.count('class="node automation"'),
        'data-source="slack-intake" data-target="builder"' in svg,
    )
    assert found == (len(list(AUTOMATIONS.glob("*.yaml"))), True)


def test_map_needs_the_token(
    world: World, db_path: Path, client_for: Callable[..., httpx.Client]
) -> None:
    """Behind a viewer token the map refuses a request without it and serves one with it."""
    with RunStore.open(db_path, readonly=True) as store:
        web = client_for(store, token=TOKEN)
        codes = (
            web.get("/map").status_code,
            web.get("/map.json", headers={"Authorization": f"Bearer {TOKEN}"}).status_code,
        )
    assert codes == (401, 200)


def _flags(web: httpx.Client, source: str, target: str, via: str) -> tuple[bool, bool]:
    edges = web.get("/map.json").json()["edges"]
    edge = next(e for e in edges if (e["source"], e["target"], e["via"]) == (source, target, via))
    return edge["vouched"], edge["needs_person"]


def test_ready_label_edge_is_vouched(web: httpx.Client) -> None:
    """The intake's factory:ready label reaches the builder by the daemon's vouch, no person."""
    assert _flags(web, *INTAKE_TO_BUILDER) == (True, False)


def test_factory_issue_edge_into_triage_needs_a_person(web: httpx.Client) -> None:
    """triage ignores the factory's own issues.opened: that edge needs a person."""
    via = "create_issue → issues.opened"
    assert _flags(web, "slack-intake", "triage", via) == (False, True)
