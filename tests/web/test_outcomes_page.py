"""The automations page and its .json show outcome figures per prompt version."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from factory.store import RunStore
from tests.store.outcome_world import V1, V2, seed_outcomes


@pytest.fixture
def outcomes_client(
    db_path: Path, client_for: Callable[..., httpx.Client]
) -> Iterator[httpx.Client]:
    """A standalone viewer over a store with two builder versions' outcomes."""
    with RunStore.open(db_path) as writer:
        seed_outcomes(writer)
    with RunStore.open(db_path, readonly=True) as reader:
        yield client_for(reader)


def _version(client: httpx.Client, digest: str) -> dict[str, Any]:
    data = client.get("/automations.json").json()["automations"]
    builder = next(a for a in data if a["name"] == "builder")
    found: dict[str, Any] = next(v for v in builder["versions"] if v["content_hash"] == digest)
    return found


def test_automations_json_gives_accepted_rate_and_cost_per_accepted(
    outcomes_client: httpx.Client,
) -> None:
    """Each version's .json entry carries its accepted rate, zero-touch rate and cost per
    accepted outcome."""
    o = _version(outcomes_client, V1)["outcomes"]
    assert (o["accepted_rate"], o["zero_touch_rate"], o["cost_per_accepted_usd"]) == (
        0.5,
        0.25,
        2.0,
    )


def test_automations_json_gives_median_time_to_outcome(outcomes_client: httpx.Client) -> None:
    """The median time to outcome is given in seconds."""
    assert _version(outcomes_client, V1)["outcomes"]["median_s_to_outcome"] == 9000.0


def test_version_without_outcomes_has_null_outcomes(
    db_path: Path, client_for: Callable[..., httpx.Client]
) -> None:
    """A version none of whose outputs met a fate has ``outcomes: null``."""
    with RunStore.open(db_path) as writer:
        writer.create_run("builder", content_hash="v9")
    with RunStore.open(db_path, readonly=True) as reader:
        assert _version(client_for(reader), "v9")["outcomes"] is None


def test_automations_page_shows_outcomes_per_version(outcomes_client: httpx.Client) -> None:
    """The HTML page has one outcome row per version, with its accepted rate and cost."""
    html = outcomes_client.get("/automations").text
    rows = [html.split(f'data-version="{v}"')[1].split("</tr>")[0] for v in (V1, V2)]
    assert [("50%" in rows[0], "$2.00" in rows[0]), ("100%" in rows[1])] == [(True, True), True]
