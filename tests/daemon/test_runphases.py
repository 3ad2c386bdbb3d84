"""The values a run's phases hand each other (factory/daemon/runphases.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from factory.daemon.runphases import Outcome


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
