"""The ``sentry:`` trigger: its gates (level, project, environment, counts, age, actions),
the old single-level shape, and what the dispatcher's trust gate does with Sentry's data."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from factory.config.loader import load_factory
from factory.config.triggers import SentryTrigger, Trigger
from factory.daemon.dispatch import Dispatcher
from factory.events import Event, Subject
from factory.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def sentry_event(kind: str = "sentry.issue.created", **fields: Any) -> Event:
    """Return a Sentry event received at NOW about issue 42 with payload ``fields`` (an
    error in project web, production, 10 events, 3 users, first seen 2 days ago)."""
    payload: dict[str, Any] = {
        "issue_id": "42",
        "level": "error",
        "project": "web",
        "environment": "production",
        "count": 10,
        "user_count": 3,
        "first_seen": (NOW - timedelta(days=2)).isoformat().replace("+00:00", "Z"),
        "last_seen": NOW.isoformat(),
    }
    payload.update(fields)
    return Event(
        source="sentry",
        kind=kind,
        dedup_key=f"sentry:test:{kind}:{sorted(fields.items())}",
        subject=Subject(kind="sentry", sentry_id="42"),
        actor="sentry",
        trust="data",
        payload=payload,
        received_at=NOW,
    )


def trigger(**fields: Any) -> SentryTrigger:
    """Return a SentryTrigger as YAML would give it."""
    return SentryTrigger.model_validate(fields)


# -- shape -------------------------------------------------------------------------------


def test_default_levels_are_error_and_warning() -> None:
    """A bare ``sentry:`` trigger fires on errors and warnings."""
    assert trigger().level == ["error", "warning"]


def test_old_single_level_means_that_level_and_above() -> None:
    """The old shape ``level: warning`` still loads, meaning warning, error and fatal."""
    assert trigger(level="warning").level == ["warning", "error", "fatal"]


def test_an_empty_sentry_item_loads_with_defaults() -> None:
    """``- sentry:`` (null) in ``on:`` reads as a trigger with every default."""
    assert Trigger.model_validate({"sentry": None}).sentry == SentryTrigger()


@pytest.mark.parametrize(
    "fields",
    [{"level": "critical"}, {"level": []}, {"min_events": -1}, {"min_age": "soon"}],
    ids=["unknown-level", "no-level", "negative-min-events", "bad-duration"],
)
def test_invalid_gates_are_refused(fields: dict[str, Any]) -> None:
    """An unknown level, an empty level list, a negative minimum or a bad duration fail."""
    with pytest.raises(ValidationError):
        trigger(**fields)


def test_min_age_reads_a_duration() -> None:
    """``min_age: 1h`` is 3600 seconds."""
    assert trigger(min_age="1h").min_age == 3600


# -- gates -------------------------------------------------------------------------------


def test_error_fires_by_default() -> None:
    """A new error issue fires a default trigger."""
    assert trigger().matches(sentry_event()) is True


def test_warning_fires_by_default() -> None:
    """A new warning issue fires a default trigger (the silent failures count)."""
    assert trigger().matches(sentry_event(level="warning")) is True


def test_info_does_not_fire_by_default() -> None:
    """An info-level issue starts nothing under the default levels."""
    assert trigger().matches(sentry_event(level="info")) is False


def test_level_list_is_exact() -> None:
    """``level: [warning]`` does not fire on an error."""
    assert trigger(level=["warning"]).matches(sentry_event()) is False


def test_github_event_never_fires_a_sentry_trigger() -> None:
    """An event from another source does not fire, whatever its payload says."""
    event = sentry_event().model_copy(update={"source": "github"})
    assert trigger().matches(event) is False


def test_project_gate() -> None:
    """``project: api`` does not fire on an issue of project web."""
    assert trigger(project="api").matches(sentry_event()) is False


def test_project_gate_passes_its_project() -> None:
    """``project: web`` fires on an issue of project web."""
    assert trigger(project="web").matches(sentry_event()) is True


def test_environment_gate() -> None:
    """``environment: staging`` does not fire on a production event."""
    assert trigger(environment="staging").matches(sentry_event()) is False


def test_environment_gate_refuses_an_unknown_environment() -> None:
    """With an environment required, an event naming none does not fire."""
    assert trigger(environment="production").matches(sentry_event(environment=None)) is False


def test_min_events_gate() -> None:
    """An issue with 10 events does not pass ``min_events: 11``."""
    assert trigger(min_events=11).matches(sentry_event()) is False


def test_min_events_gate_passes_at_the_minimum() -> None:
    """An issue with 10 events passes ``min_events: 10``."""
    assert trigger(min_events=10).matches(sentry_event()) is True


def test_min_users_gate() -> None:
    """An issue that hit 3 users does not pass ``min_users: 4``."""
    assert trigger(min_users=4).matches(sentry_event()) is False


def test_unknown_count_fails_a_count_gate() -> None:
    """An issue event without a count does not pass ``min_events``."""
    assert trigger(min_events=1).matches(sentry_event(count=None)) is False


def test_event_alert_without_counts_passes_count_gates() -> None:
    """An alert rule firing (no counts in the payload) passes ``min_events``: the rule is
    Sentry's own threshold."""
    event = sentry_event("sentry.event_alert", count=None, user_count=None, first_seen=None)
    assert trigger(min_events=5, min_age="1h").matches(event) is True


def test_min_age_gate() -> None:
    """An issue first seen 2 days ago does not pass ``min_age: 3d``."""
    assert trigger(min_age="3d").matches(sentry_event()) is False


def test_min_age_gate_passes_an_older_issue() -> None:
    """An issue first seen 2 days ago passes ``min_age: 1d``."""
    assert trigger(min_age="1d").matches(sentry_event()) is True


@pytest.mark.parametrize(
    ("kind", "fires"),
    [
        ("sentry.issue.created", True),
        ("sentry.issue.unresolved", True),
        ("sentry.event_alert", True),
        ("sentry.issue.resolved", False),
        ("sentry.issue.ignored", False),
        ("sentry.issue.assigned", False),
        ("sentry.error", False),
    ],
)
def test_default_actions(kind: str, fires: bool) -> None:
    """New, regressed and alerted issues fire by default; state changes and single errors
    do not."""
    assert trigger().matches(sentry_event(kind)) is fires


def test_actions_can_name_error_events() -> None:
    """``actions: [error]`` fires on an error event."""
    assert trigger(actions=["error"]).matches(sentry_event("sentry.error")) is True


def test_seen_without_a_gate_does_not_fire() -> None:
    """A polled change fires nothing when no gate can have been crossed (created did)."""
    event = sentry_event("sentry.issue.seen", previous={"count": 9, "user_count": 3})
    assert trigger().matches(event) is False


def test_seen_crossing_min_events_fires() -> None:
    """A polled change from 4 to 10 events fires ``min_events: 5`` once crossed."""
    event = sentry_event("sentry.issue.seen", previous={"count": 4, "user_count": 3})
    assert trigger(min_events=5).matches(event) is True


def test_seen_already_past_min_events_does_not_fire() -> None:
    """A polled change from 6 to 10 events does not fire ``min_events: 5`` again."""
    event = sentry_event("sentry.issue.seen", previous={"count": 6, "user_count": 3})
    assert trigger(min_events=5).matches(event) is False


def test_seen_crossing_min_age_fires() -> None:
    """An issue previously polled when 1 day old, now 2 days old, fires ``min_age: 36h``."""
    previous = {"count": 9, "user_count": 3, "polled_at": (NOW - timedelta(days=1)).isoformat()}
    event = sentry_event("sentry.issue.seen", previous=previous)
    assert trigger(min_age="36h").matches(event) is True


def test_seen_without_previous_does_not_fire() -> None:
    """A polled change without the previous sight fires nothing."""
    assert trigger(min_events=5).matches(sentry_event("sentry.issue.seen")) is False


# -- the dispatcher: one line calls matches(), and the trust gate ---------------------------

AUTOMATION = """\
name: {name}
on:
  - sentry: {{min_events: 5}}
subject: sentry
trust: {trust}
workspace: none
prompt: Investigate it.
"""


@pytest.fixture
def dispatcher(tmp_path: Path) -> Dispatcher:
    """A dispatcher over three Sentry automations: trust anyone, collaborators, maintainers."""
    folder = tmp_path / "automations"
    folder.mkdir()
    for trust in ("anyone", "collaborators", "maintainers"):
        name = f"on-{trust}"
        (folder / f"{name}.yaml").write_text(AUTOMATION.format(name=name, trust=trust))
    config = load_factory(folder, Path(shutil.copytree(ROOT / "harness", tmp_path / "harness")))
    return Dispatcher(RunStore.open(tmp_path / "f.db"), lambda: config)


def decisions_for(dispatcher: Dispatcher, event: Event) -> dict[str, str]:
    """Store ``event``, dispatch it, return {automation: run status}."""
    event_id, _ = dispatcher.store.add_event(event)
    record = dispatcher.store.get_event(event_id)
    return {d.automation: d.status for d in dispatcher.dispatch(record)}


def test_dispatch_uses_the_trigger_gates(dispatcher: Dispatcher) -> None:
    """An issue with 2 events passes no ``min_events: 5`` trigger: no run at all."""
    assert decisions_for(dispatcher, sentry_event(count=2)) == {}


def test_data_starts_only_an_automation_trusting_anyone(dispatcher: Dispatcher) -> None:
    """Sentry's data queues a run of the ``trust: anyone`` automation and is refused
    (skipped) by the collaborators and maintainers ones."""
    assert decisions_for(dispatcher, sentry_event()) == {
        "on-anyone": "queued",
        "on-collaborators": "skipped",
        "on-maintainers": "skipped",
    }
