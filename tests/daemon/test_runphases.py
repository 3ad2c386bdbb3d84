"""The values a run's phases hand each other (factory/daemon/runphases.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from factory.daemon.runner import _seconds
from factory.daemon.runphases import Outcome
from factory.store import RunStore


def test_outcome_survives_json_with_every_field() -> None:
    """An Outcome written as JSON (a DBOS step's checkpoint) reads back equal, pause time kept."""
    outcome = Outcome(
        "interrupted",
        "paused by a GitHub rate limit",
        "GitHubRateLimited: 403",
        retryable=True,
        busy=True,
        resume_at=datetime(2026, 12, 1, 22, 30, 5, tzinfo=UTC),
    )
    assert Outcome.from_json(json.loads(json.dumps(outcome.to_json()))) == outcome


def test_outcome_without_pause_reads_back_without_one() -> None:
    """A plain succeeded Outcome reads back with no resume time and no retry."""
    assert Outcome.from_json(Outcome("succeeded").to_json()) == Outcome("succeeded")


def test_a_run_finished_in_another_step_is_timed_from_its_row(tmp_path: Path) -> None:
    """Without a monotonic start (DBOS's finish step), run_finished's seconds come from the
    row's started and finished times."""
    began = datetime(2026, 12, 1, 22, 0, 0, tzinfo=UTC)
    with RunStore.open(tmp_path / "f.db") as store:
        run_id = store.create_run("triage", subject_key="issue:1")
        store.start_run(run_id, "worker-a", now=began)
        record = store.finish_run(run_id, "succeeded", now=began + timedelta(seconds=12.5))
    assert _seconds(record, None) == 12.5
