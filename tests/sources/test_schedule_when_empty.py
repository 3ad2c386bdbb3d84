"""A ``when_empty: run`` sweep that selects nothing stores one subject-less tick."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from factory.config.loader import load_factory
from factory.config.triggers import Select
from factory.events import Subject
from factory.sources.schedule import tick_events

ROOT = Path(__file__).resolve().parents[2]


def _planner_ticks(found: Sequence[Subject]) -> list[tuple[str, Subject | None, object]]:
    planner = load_factory(ROOT / "automations", ROOT / "harness").automations["planner"]
    sweep = next(i for i, t in enumerate(planner.on) if t.schedule is not None)
    at = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def find(select: Select) -> Sequence[Subject]:
        return found

    events = tick_events(planner, sweep, at, find)
    return [
        (e.dedup_key.rsplit(":", 1)[-1], e.subject, e.payload.get("empty_select")) for e in events
    ]


def test_empty_select_makes_one_subject_less_tick() -> None:
    """The shipped planner's sweep selecting nothing stores one event, without a subject."""
    assert _planner_ticks([]) == [("empty", None, True)]


def test_select_with_matches_makes_no_empty_tick() -> None:
    """A sweep that selects an issue stores that issue's event only."""
    issue = Subject(kind="issue", number=7)
    assert [(s, e) for _, s, e in _planner_ticks([issue])] == [(issue, None)]
