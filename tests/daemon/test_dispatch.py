"""Dispatch: events become queued or skipped runs; limits decide which queued run starts."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from factory.config.loader import FactoryConfig, load_factory
from factory.daemon.dispatch import Dispatcher
from factory.events import Event, Subject, Trust
from factory.interfaces import Usage
from factory.store import RunStore

ROOT = Path(__file__).resolve().parents[2]

BUILDER = """\
name: builder
on:
  - github: {event: issues.labeled, label: "factory:ready"}
  - manual: {}
subject: issue
trust: maintainers
concurrency: 2
limits: {daily_usd: 5}
retries: {max: 2, backoff: 1m}
prompt: Build {{ subject.title }}.
"""
REVIEWER = """\
name: reviewer
on:
  - github: {event: pull_request.opened, include_factory: true}
subject: pull_request
trust: anyone
workspace: none
prompt: Review it.
"""
TRIAGE = """\
name: triage
on:
  - github: {event: issues.opened}
subject: issue
trust: anyone
workspace: none
prompt: Triage it.
"""


@pytest.fixture
def config(tmp_path: Path) -> FactoryConfig:
    """Three small automations with the shipped harness."""
    folder = tmp_path / "automations"
    folder.mkdir()
    for name, text in {"builder": BUILDER, "reviewer": REVIEWER, "triage": TRIAGE}.items():
        (folder / f"{name}.yaml").write_text(text)
    return load_factory(folder, Path(shutil.copytree(ROOT / "harness", tmp_path / "harness")))


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    """A fresh run store."""
    return RunStore.open(tmp_path / "f.db")


@pytest.fixture
def dispatcher(store: RunStore, config: FactoryConfig) -> Dispatcher:
    """A dispatcher over the three automations, global concurrency 3."""
    return Dispatcher(store, lambda: config, global_concurrency=3)


MakeEvent = Callable[..., int]


@pytest.fixture
def add_event(store: RunStore) -> MakeEvent:
    """Store a GitHub event and return its id."""
    counter = iter(range(1, 10_000))

    def make(
        kind: str = "issues.labeled",
        *,
        number: int = 1,
        label: str | None = "factory:ready",
        trust: Trust = "maintainers",
        by_factory: bool = False,
        subject_kind: str = "issue",
        source: str = "github",
        payload: dict[str, Any] | None = None,
    ) -> int:
        body = dict(payload or {})
        if label:
            body["label"] = {"name": label}
        event = Event(
            source=source,  # type: ignore[arg-type]
            kind=kind,
            dedup_key=f"k{next(counter)}",
            subject=Subject(kind=subject_kind, number=number),  # type: ignore[arg-type]
            actor="alice",
            trust=trust,
            by_factory=by_factory,
            payload=body,
        )
        return store.add_event(event)[0]

    return make


def _statuses(dispatcher: Dispatcher) -> list[tuple[str, str]]:
    return sorted((d.automation, d.status) for d in dispatcher.dispatch_pending())


def test_labeled_by_maintainer_queues_builder(dispatcher: Dispatcher, add_event: MakeEvent) -> None:
    """A ready label applied by a maintainer queues exactly one builder run."""
    add_event()
    assert _statuses(dispatcher) == [("builder", "queued")]


def test_other_label_starts_nothing(dispatcher: Dispatcher, add_event: MakeEvent) -> None:
    """A label other than the trigger's label starts no run."""
    add_event(label="bug")
    assert _statuses(dispatcher) == []


def test_outsider_label_is_skipped_with_trust_reason(
    dispatcher: Dispatcher, add_event: MakeEvent, store: RunStore
) -> None:
    """The same label from an outsider is recorded as a skipped run naming the trust reason."""
    add_event(trust="anyone")
    [decision] = dispatcher.dispatch_pending()
    run = store.get_run(decision.run_id or "")
    assert (run.status, run.stop_reason) == (
        "skipped",
        "trust: alice is trusted as 'anyone', automation builder needs 'maintainers'",
    )


def test_event_dispatched_twice_makes_one_run(
    dispatcher: Dispatcher, add_event: MakeEvent, store: RunStore
) -> None:
    """Dispatching the same stored event again (recovery) creates no second run."""
    event_id = add_event()
    dispatcher.dispatch(store.get_event(event_id))
    dispatcher.dispatch(store.get_event(event_id))
    assert len(store.list_runs()) == 1


def test_dispatch_marks_events_dispatched(
    dispatcher: Dispatcher, add_event: MakeEvent, store: RunStore
) -> None:
    """After dispatch_pending no event is left undispatched."""
    add_event()
    add_event(kind="issues.opened", label=None)
    dispatcher.dispatch_pending()
    assert store.undispatched_events() == []


def test_factory_own_event_starts_nothing_by_default(
    dispatcher: Dispatcher, add_event: MakeEvent
) -> None:
    """An event caused by the factory's own write does not trigger the builder."""
    add_event(by_factory=True)
    assert _statuses(dispatcher) == []


def test_factory_own_event_fires_trigger_that_asks_for_it(
    dispatcher: Dispatcher, add_event: MakeEvent
) -> None:
    """A trigger with include_factory fires on the factory's own pull request."""
    add_event("pull_request.opened", label=None, by_factory=True, subject_kind="pull_request")
    assert _statuses(dispatcher) == [("reviewer", "queued")]


def test_subject_kind_must_fit(dispatcher: Dispatcher, add_event: MakeEvent) -> None:
    """An issue automation is not started by an event about a pull request."""
    add_event(subject_kind="pull_request")
    assert _statuses(dispatcher) == []


def test_manual_event_names_its_automation(dispatcher: Dispatcher, add_event: MakeEvent) -> None:
    """A manual event starts only the automation it names."""
    add_event("manual", label=None, source="manual", payload={"automation": "builder"})
    assert _statuses(dispatcher) == [("builder", "queued")]


def test_daily_budget_spent_skips_new_runs(
    dispatcher: Dispatcher, add_event: MakeEvent, store: RunStore
) -> None:
    """Once the automation spent its daily USD, a new event yields a skipped run with the reason."""
    add_event(number=1)
    [first] = dispatcher.dispatch_pending()
    store.start_run(first.run_id or "", "t")
    store.add_usage(first.run_id or "", Usage(input_tokens=1), 5.01)
    store.finish_run(first.run_id or "", "succeeded")
    add_event(number=2)
    [second] = dispatcher.dispatch_pending()
    assert (second.status, (second.reason or "").split(":")[0]) == ("skipped", "budget")


def test_runnable_respects_automation_concurrency(
    dispatcher: Dispatcher, add_event: MakeEvent, store: RunStore
) -> None:
    """With builder at its concurrency of 2, a third queued builder run is not runnable."""
    for n in (1, 2, 3):
        add_event(number=n)
    dispatcher.dispatch_pending()
    for _ in range(2):
        found = dispatcher.runnable(store.list_runs(status="running"))
        assert found is not None
        store.start_run(found[0].id, "t")
    assert dispatcher.runnable(store.list_runs(status="running")) is None


def test_runnable_keeps_one_run_per_subject(
    dispatcher: Dispatcher, add_event: MakeEvent, store: RunStore
) -> None:
    """A second run on the same issue waits while the first runs, whatever the automation."""
    add_event(number=1)
    add_event("manual", number=1, label=None, source="manual", payload={"automation": "builder"})
    dispatcher.dispatch_pending()
    first = dispatcher.runnable([])
    assert first is not None
    store.start_run(first[0].id, "t")
    assert dispatcher.runnable(store.list_runs(status="running")) is None


def test_runnable_respects_global_concurrency(
    store: RunStore, config: FactoryConfig, add_event: MakeEvent
) -> None:
    """With global concurrency 1 and one run running, nothing else is runnable."""
    dispatcher = Dispatcher(store, lambda: config, global_concurrency=1)
    add_event(number=1)
    add_event(number=2)
    dispatcher.dispatch_pending()
    first = dispatcher.runnable([])
    assert first is not None
    store.start_run(first[0].id, "t")
    assert dispatcher.runnable(store.list_runs(status="running")) is None


@pytest.mark.parametrize(("attempt", "seconds"), [(1, 60), (2, 120), (3, None)], ids=str)
def test_retry_delay_doubles_then_stops(
    dispatcher: Dispatcher, config: FactoryConfig, attempt: int, seconds: int | None
) -> None:
    """Backoff doubles per attempt and stops after retries.max retries."""
    delay = dispatcher.retry_delay(config.automations["builder"], attempt)
    assert (delay.total_seconds() if delay else None) == seconds


def test_zero_global_concurrency_is_refused(store: RunStore, config: FactoryConfig) -> None:
    """A dispatcher with global concurrency 0 is a ValueError naming the value."""
    with pytest.raises(ValueError, match="got 0"):
        Dispatcher(store, lambda: config, global_concurrency=0)


def test_run_of_a_deleted_automation_is_cancelled(
    store: RunStore, config: FactoryConfig, add_event: MakeEvent
) -> None:
    """A queued run whose automation was removed by a reload is cancelled, saying why."""
    dispatcher = Dispatcher(store, lambda: config)
    add_event(number=1)
    [decision] = dispatcher.dispatch_pending()
    del config.automations["builder"]
    found = dispatcher.runnable([])
    run = store.get_run(decision.run_id or "")
    assert (found, run.status, run.stop_reason) == (
        None,
        "cancelled",
        "automation 'builder' no longer exists",
    )


def test_triage_and_builder_do_not_run_on_one_issue_at_once(
    dispatcher: Dispatcher, add_event: MakeEvent, store: RunStore
) -> None:
    """A workspace-less triage run waits while the builder runs on the same issue."""
    add_event(number=1)
    add_event("issues.opened", number=1, label=None)
    dispatcher.dispatch_pending()
    first = dispatcher.runnable([])
    assert first is not None
    store.start_run(first[0].id, "t")
    assert dispatcher.runnable(store.list_runs(status="running")) is None
