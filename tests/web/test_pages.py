"""Every page answers, in HTML and as its .json twin, with what the store holds."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import Seeded


def test_home_redirects_to_runs(client: httpx.Client) -> None:
    """/ sends the browser to the runs page."""
    assert client.get("/").headers["location"] == "/runs"


def test_runs_json_lists_newest_first(client: httpx.Client, seeded: Seeded) -> None:
    """/runs.json lists every run, newest first."""
    ids = [r["id"] for r in client.get("/runs.json").json()["runs"]]
    assert ids == [seeded.other, seeded.running, seeded.finished]


def test_runs_json_carries_source_and_subject_title(client: httpx.Client, seeded: Seeded) -> None:
    """A listed run shows its event's source and its subject's title."""
    run = client.get("/runs.json", params={"automation": "builder", "status": "succeeded"}).json()
    assert (run["runs"][0]["source"], run["runs"][0]["subject_title"][:9]) == (
        "github",
        "Fix login",
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"automation": "triage"}, ["other"]),
        ({"status": "running"}, ["running"]),
        ({"subject": "issue:12"}, ["finished"]),
        ({"source": "github"}, ["finished"]),
        ({"source": "none"}, ["other", "running"]),
        ({"date": "2001-01-01"}, []),
    ],
    ids=["automation", "status", "subject", "source", "no-source", "date"],
)
def test_runs_filters(
    client: httpx.Client, seeded: Seeded, params: dict[str, str], expected: list[str]
) -> None:
    """Each filter of the runs list keeps only the matching runs."""
    ids = [r["id"] for r in client.get("/runs.json", params=params).json()["runs"]]
    assert ids == [getattr(seeded, name) for name in expected]


def test_runs_keyset_pagination_continues_before_the_given_id(
    client: httpx.Client, seeded: Seeded
) -> None:
    """?before=<id> gives the runs older than that id."""
    ids = [
        r["id"] for r in client.get("/runs.json", params={"before": seeded.running}).json()["runs"]
    ]
    assert ids == [seeded.finished]


def test_runs_bad_date_is_a_400(client: httpx.Client) -> None:
    """A date that is not YYYY-MM-DD is refused with 400."""
    assert client.get("/runs", params={"date": "yesterday"}).status_code == 400


def test_runs_page_polls_while_a_run_is_running(client: httpx.Client) -> None:
    """The runs table asks htmx to refresh its rows every 2 s while a run is live."""
    assert 'hx-trigger="every 2s"' in client.get("/runs").text


def test_runs_page_does_not_poll_when_nothing_runs(client: httpx.Client) -> None:
    """With only finished runs listed, the table does not poll."""
    assert "hx-trigger" not in client.get("/runs", params={"status": "failed"}).text


def test_run_json_has_steps_in_order_with_raw_links(client: httpx.Client, seeded: Seeded) -> None:
    """/runs/{id}.json lists the steps in order, each with a link to its raw JSON."""
    steps = client.get(f"/runs/{seeded.finished}.json").json()["steps"]
    assert [(s["seq"], s["raw_url"]) for s in steps][:2] == [
        (1, f"/runs/{seeded.finished}/steps/1.json"),
        (2, f"/runs/{seeded.finished}/steps/2.json"),
    ]


def test_run_page_leaves_model_request_payload_out(client: httpx.Client, seeded: Seeded) -> None:
    """The run page does not ship a model request's payload (only its raw link)."""
    assert "token is" not in client.get(f"/runs/{seeded.finished}").text


def test_step_raw_json_has_the_whole_payload(client: httpx.Client, seeded: Seeded) -> None:
    """/runs/{id}/steps/{seq}.json returns the step with its full payload."""
    step = client.get(f"/runs/{seeded.finished}/steps/3.json").json()
    assert step["payload"]["input"] == {"command": "cat README.md"}


def test_unknown_run_is_a_404(client: httpx.Client) -> None:
    """A run id that does not exist answers 404."""
    assert client.get("/runs/01NOPE.json").status_code == 404


def test_unknown_step_is_a_404(client: httpx.Client, seeded: Seeded) -> None:
    """A step number the run does not have answers 404."""
    assert client.get(f"/runs/{seeded.finished}/steps/99.json").status_code == 404


def test_run_page_folds_long_tool_result(client: httpx.Client, seeded: Seeded) -> None:
    """A long tool result is folded in a <details> with a summary line."""
    page = client.get(f"/runs/{seeded.finished}").text
    assert '<details class="fold"><summary>' in page


def test_run_page_classes_diff_lines(client: httpx.Client, seeded: Seeded) -> None:
    """A diff's added lines carry the add class."""
    assert '<span class="add">+new = 2</span>' in client.get(f"/runs/{seeded.finished}").text


def test_live_run_page_polls_for_new_steps(client: httpx.Client, seeded: Seeded) -> None:
    """A running run's page polls /runs/{id}/steps?after=<last seq> every second."""
    page = client.get(f"/runs/{seeded.running}").text
    assert f'hx-get="/runs/{seeded.running}/steps?after=1" hx-trigger="every 1s"' in page


def test_finished_run_page_does_not_poll(client: httpx.Client, seeded: Seeded) -> None:
    """A finished run's page has no step poller."""
    assert "step-poller" not in client.get(f"/runs/{seeded.finished}").text


def test_steps_fragment_returns_only_newer_steps(client: httpx.Client, seeded: Seeded) -> None:
    """/runs/{id}/steps?after=4 renders steps 5 and 6 only."""
    fragment = client.get(f"/runs/{seeded.finished}/steps", params={"after": 4}).text
    assert (fragment.count('class="step '), 'id="step-5"' in fragment) == (2, True)


def test_automations_json_has_prompt_version_figures(client: httpx.Client) -> None:
    """/automations.json gives per-version runs, success rate and median cost."""
    data = client.get("/automations.json").json()["automations"]
    builder = next(a for a in data if a["name"] == "builder")
    version = next(v for v in builder["versions"] if v["content_hash"] == "a" * 64)
    assert (version["runs"], version["success_rate"], version["median_cost_usd"]) == (1, 1.0, 0.01)


def test_automations_page_standalone_hides_run_now(client: httpx.Client) -> None:
    """A standalone viewer (no enqueue callable) shows no Run now button."""
    assert "Run now" not in client.get("/automations").text


def test_factory_json_counts_runs_by_source(client: httpx.Client) -> None:
    """/factory.json counts runs per trigger source."""
    assert client.get("/factory.json").json()["runs_by_source"] == {"none": 2, "github": 1}


def test_factory_page_draws_svg_charts(client: httpx.Client) -> None:
    """/factory renders inline SVG bar charts."""
    assert client.get("/factory").text.count("<svg") == 4


def test_static_htmx_is_served(client: httpx.Client) -> None:
    """The vendored htmx is served from /static."""
    assert "htmx" in client.get("/static/htmx.min.js").text[:200]
