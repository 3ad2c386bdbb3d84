"""Daemon mode: the viewer knows the automations folder (YAML, triggers, next fire, Run now)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from factory.config.triggers import Trigger
from factory.store import RunStore
from factory.web.csrf import CsrfTokens
from factory.web.pages_automations import next_fire
from tests.web.conftest import Seeded, manual_enqueuer

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 1, 12, 7, tzinfo=UTC)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the shipped automations and harness, plus a scheduled automation."""
    automations = tmp_path / "automations"
    shutil.copytree(REPO / "automations", automations)
    shutil.copytree(REPO / "harness", tmp_path / "harness")
    text = (automations / "triage.yaml").read_text()
    scheduled = text.replace("name: triage", "name: sweeper").replace(
        "  - manual: {}", "  - manual: {}\n  - schedule: {cron: '*/30 * * * *'}"
    )
    (automations / "sweeper.yaml").write_text(scheduled)
    return automations, tmp_path / "harness"


@pytest.fixture
def daemon_client(
    reader: RunStore,
    db_path: Path,
    folders: tuple[Path, Path],
    client_for: Callable[..., httpx.Client],
) -> httpx.Client:
    """A viewer given the automations folder and a Run now callable."""
    automations, harness = folders
    return client_for(
        reader,
        automations_dir=automations,
        harness_dir=harness,
        enqueue_manual=manual_enqueuer(db_path),
    )


def test_automations_json_has_current_yaml_and_triggers(
    daemon_client: httpx.Client, seeded: Seeded
) -> None:
    """Each automation of the folder shows its YAML, enabled state and trigger kinds."""
    data = daemon_client.get("/automations.json").json()["automations"]
    triage = next(a for a in data if a["name"] == "triage")
    assert (triage["enabled"], [t["kind"] for t in triage["triggers"]]) == (
        True,
        ["github", "manual"],
    )


def test_cron_trigger_has_a_next_fire_time(daemon_client: httpx.Client, seeded: Seeded) -> None:
    """A cron schedule's next fire time is given on the automations page."""
    data = daemon_client.get("/automations.json").json()["automations"]
    sweeper = next(a for a in data if a["name"] == "sweeper")
    assert [t["next_fire"] is not None for t in sweeper["triggers"]] == [False, False, True]


def test_next_fire_of_cron_is_the_next_match() -> None:
    """A '*/30' cron fires next at the coming half hour."""
    trigger = Trigger.model_validate({"schedule": {"cron": "*/30 * * * *"}})
    assert next_fire(trigger, NOW) == NOW.replace(minute=30)


def test_next_fire_of_every_is_now_plus_interval() -> None:
    """An 'every' schedule fires next one interval from now."""
    trigger = Trigger.model_validate({"schedule": {"every": "30m"}})
    assert next_fire(trigger, NOW) == NOW + timedelta(minutes=30)


def test_daemon_mode_shows_run_now(daemon_client: httpx.Client, seeded: Seeded) -> None:
    """With an enqueue callable the automations page offers Run now with a CSRF token."""
    page = daemon_client.get("/automations").text
    assert ("Run now" in page, 'name="csrf_token" value="' in page) == (True, True)


def test_broken_automation_folder_is_reported(
    reader: RunStore,
    folders: tuple[Path, Path],
    client_for: Callable[..., httpx.Client],
) -> None:
    """A config error is shown on the page instead of failing it."""
    automations, harness = folders
    (automations / "bad.yaml").write_text("name: bad\nnope: 1\n")
    client = client_for(reader, automations_dir=automations, harness_dir=harness)
    assert client.get("/automations.json").json()["config_error"].startswith(str(automations))


def test_run_now_without_a_run_id_shows_the_automations_runs(
    reader: RunStore, client_for: Callable[..., httpx.Client]
) -> None:
    """When enqueue_manual queues nothing (empty id), Run now shows the automation's runs."""
    client = client_for(reader, enqueue_manual=lambda name: "", csrf_secret=b"k" * 32)
    token = CsrfTokens(b"k" * 32).token("run:builder")
    response = client.post("/automations/builder/run", data={"csrf_token": token})
    assert response.headers["location"] == "/runs?automation=builder"


def test_run_now_refused_by_the_daemon_says_why(
    reader: RunStore, client_for: Callable[..., httpx.Client]
) -> None:
    """Run now of an automation that needs a subject answers 409 with the daemon's reason."""

    def needs_subject(name: str) -> str:
        raise ValueError(f"automation {name!r} works on an issue: pass --issue N")

    client = client_for(reader, enqueue_manual=needs_subject, csrf_secret=b"k" * 32)
    token = CsrfTokens(b"k" * 32).token("run:builder")
    response = client.post("/automations/builder/run", data={"csrf_token": token})
    assert (response.status_code, "works on an issue" in response.text) == (409, True)
