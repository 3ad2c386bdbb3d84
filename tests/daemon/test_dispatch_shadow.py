"""Shadows in dispatch: they run on their live automation's events and never wait for it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from factory.config.loader import FactoryConfig, load_factory
from factory.daemon.dispatch import Dispatcher
from factory.events import Event, Subject
from factory.store import RunStore
from tests.daemon.test_dispatch import BUILDER, TRIAGE

ROOT = Path(__file__).resolve().parents[2]
SHADOW = """\
name: builder-next
shadow_of: builder
subject: issue
prompt: Build {{ subject.title }}, the new way.
"""


@pytest.fixture
def config(tmp_path: Path) -> FactoryConfig:
    """The builder, its shadow builder-next, and triage, with the shipped harness."""
    folder = tmp_path / "automations"
    folder.mkdir()
    for name, text in {"builder": BUILDER, "builder-next": SHADOW, "triage": TRIAGE}.items():
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


def add(store: RunStore, kind: str, key: str, **payload: object) -> int:
    """Store a maintainer's event on issue #1; return its id."""
    source = "manual" if kind == "manual" else "github"
    event = Event(
        source=source,
        kind=kind,
        dedup_key=key,
        subject=Subject(kind="issue", number=1),
        actor="alice",
        trust="maintainers",
        payload=dict(payload),
    )
    return store.add_event(event)[0]


def automations_of(dispatcher: Dispatcher) -> list[tuple[str, str]]:
    """Dispatch what is pending; return (automation, status) of the runs made, sorted."""
    return sorted((d.automation, d.status) for d in dispatcher.dispatch_pending())


def test_shadow_runs_on_its_live_automations_trigger(
    dispatcher: Dispatcher, store: RunStore
) -> None:
    """The ready label queues the builder and its shadow, one run each."""
    add(store, "issues.labeled", "k1", label={"name": "factory:ready"})
    assert automations_of(dispatcher) == [("builder", "queued"), ("builder-next", "queued")]


def test_shadow_runs_on_a_manual_run_of_its_live_automation(
    dispatcher: Dispatcher, store: RunStore
) -> None:
    """A manual event naming the builder also queues its shadow (the live one's trigger)."""
    add(store, "manual", "k1", automation="builder")
    assert automations_of(dispatcher) == [("builder", "queued"), ("builder-next", "queued")]


def test_shadow_does_not_run_on_other_automations_events(
    dispatcher: Dispatcher, store: RunStore
) -> None:
    """An event only triage takes queues no shadow of the builder."""
    add(store, "issues.opened", "k1")
    assert automations_of(dispatcher) == [("triage", "queued")]


def test_shadow_is_runnable_while_its_live_twin_runs(
    dispatcher: Dispatcher, store: RunStore
) -> None:
    """With the builder running on issue #1, its shadow on the same issue may start."""
    add(store, "issues.labeled", "k1", label={"name": "factory:ready"})
    runs = {d.automation: d.run_id or "" for d in dispatcher.dispatch_pending()}
    store.start_run(runs["builder"], "t")
    found = dispatcher.runnable(store.list_runs(status="running"))
    assert (found[0].automation if found else None) == "builder-next"


def test_running_shadow_does_not_hold_up_its_live_twin(
    dispatcher: Dispatcher, store: RunStore
) -> None:
    """With the shadow running on issue #1, the builder on the same issue may start."""
    add(store, "issues.labeled", "k1", label={"name": "factory:ready"})
    runs = {d.automation: d.run_id or "" for d in dispatcher.dispatch_pending()}
    store.start_run(runs["builder-next"], "t")
    found = dispatcher.runnable(store.list_runs(status="running"))
    assert (found[0].automation if found else None) == "builder"


def test_live_runs_still_wait_for_each_other(dispatcher: Dispatcher, store: RunStore) -> None:
    """A second live run on issue #1 still waits while the builder runs (only shadows skip it)."""
    add(store, "issues.labeled", "k1", label={"name": "factory:ready"})
    add(store, "issues.opened", "k2")
    runs = {d.automation: d.run_id or "" for d in dispatcher.dispatch_pending()}
    store.start_run(runs["builder"], "t")
    store.start_run(runs["builder-next"], "t")
    assert dispatcher.runnable(store.list_runs(status="running")) is None
