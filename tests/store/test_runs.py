"""Runs: queueing, starting, finishing, retries, interruption and listing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from factory.errors import DuplicateRun, RunNotFound, StoreError
from factory.events import Event
from factory.interfaces import Usage
from factory.store import RunStore

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def test_new_run_is_queued_with_its_fields(store: RunStore) -> None:
    """create_run stores a queued run with the automation, subject and prompt given."""
    run_id = store.create_run(
        "builder", subject_key="issue:12", content_hash="abc", prompt_snapshot="name: builder"
    )
    run = store.get_run(run_id)
    assert (run.status, run.automation, run.subject_key, run.content_hash, run.prompt_snapshot) == (
        "queued",
        "builder",
        "issue:12",
        "abc",
        "name: builder",
    )


def test_timestamps_come_back_as_aware_utc(store: RunStore) -> None:
    """A run's queued_at reads back timezone-aware in UTC."""
    run = store.get_run(store.create_run("builder", now=NOW))
    assert run.queued_at == NOW and run.queued_at.tzinfo == UTC


def test_naive_datetime_is_refused(store: RunStore) -> None:
    """Passing a naive datetime to the store raises instead of guessing a zone."""
    with pytest.raises(Exception, match="naive"):
        store.create_run("builder", now=datetime(2026, 1, 1))


def test_same_event_automation_attempt_is_a_duplicate(
    store: RunStore, make_event: Callable[..., Event]
) -> None:
    """A second run for the same event, automation and attempt raises DuplicateRun with the id."""
    event_id, _ = store.add_event(make_event())
    first = store.create_run("builder", event_id=event_id)
    with pytest.raises(DuplicateRun) as info:
        store.create_run("builder", event_id=event_id)
    assert info.value.run_id == first


def test_other_automation_on_same_event_is_not_a_duplicate(
    store: RunStore, make_event: Callable[..., Event]
) -> None:
    """One event may queue runs of several automations."""
    event_id, _ = store.add_event(make_event())
    store.create_run("builder", event_id=event_id)
    store.create_run("reviewer", event_id=event_id)
    assert len(store.list_runs()) == 2


def test_unknown_event_id_is_refused_by_foreign_key(store: RunStore) -> None:
    """A run pointing at a missing event is refused (foreign keys are enforced)."""
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        store.create_run("builder", event_id=999)


def test_skipped_run_is_finished_at_creation(store: RunStore) -> None:
    """A run created as skipped has its reason and is already finished."""
    run = store.get_run(store.create_run("builder", status="skipped", stop_reason="untrusted"))
    assert (run.status, run.stop_reason, run.finished) == ("skipped", "untrusted", True)


def test_start_run_sets_running_holder_and_start(
    store: RunStore, make_run: Callable[..., str]
) -> None:
    """start_run moves a queued run to running under the holder, stamped."""
    run = store.start_run(make_run(), "worker-1", now=NOW)
    assert (run.status, run.holder, run.started_at) == ("running", "worker-1", NOW)


def test_start_run_refuses_a_run_not_queued(store: RunStore, make_run: Callable[..., str]) -> None:
    """Starting a run twice raises StoreError naming the run."""
    run_id = make_run()
    store.start_run(run_id, "w")
    with pytest.raises(StoreError, match=run_id):
        store.start_run(run_id, "w")


def test_get_unknown_run_raises_run_not_found(store: RunStore) -> None:
    """get_run of an unknown id raises RunNotFound naming it."""
    with pytest.raises(RunNotFound, match="nope"):
        store.get_run("nope")


def test_queued_runs_are_oldest_first(store: RunStore, make_run: Callable[..., str]) -> None:
    """queued_runs lists due runs in the order they were queued."""
    first = make_run(now=NOW)
    second = make_run(now=NOW + timedelta(seconds=1))
    due = store.queued_runs(now=NOW + timedelta(seconds=2))
    assert [r.id for r in due] == [first, second]


def test_queued_runs_wait_for_not_before(store: RunStore, make_run: Callable[..., str]) -> None:
    """A run whose not_before is in the future is not due yet."""
    make_run(now=NOW, not_before=NOW + timedelta(minutes=5))
    assert store.queued_runs(now=NOW + timedelta(minutes=1)) == []


def test_queued_runs_include_due_backoff_run(store: RunStore, make_run: Callable[..., str]) -> None:
    """A run whose not_before has passed is due."""
    run_id = make_run(now=NOW, not_before=NOW + timedelta(minutes=5))
    assert [r.id for r in store.queued_runs(now=NOW + timedelta(minutes=6))] == [run_id]


def test_queued_runs_filter_by_automation(store: RunStore, make_run: Callable[..., str]) -> None:
    """queued_runs with an automation skips other automations' runs."""
    make_run("planner", now=NOW)
    wanted = make_run("builder", now=NOW + timedelta(seconds=1))
    due = store.queued_runs(automation="builder", now=NOW + timedelta(seconds=2))
    assert [r.id for r in due] == [wanted]


def test_finish_run_records_outcome(store: RunStore, make_run: Callable[..., str]) -> None:
    """finish_run stores the final status, reason, error and retryable flag."""
    run_id = make_run()
    store.start_run(run_id, "w")
    run = store.finish_run(run_id, "failed", stop_reason="max_turns", error="boom", retryable=True)
    assert (run.status, run.stop_reason, run.error, run.retryable, run.finished) == (
        "failed",
        "max_turns",
        "boom",
        True,
        True,
    )


def test_finish_run_twice_is_refused(store: RunStore, make_run: Callable[..., str]) -> None:
    """A finished run cannot be finished again."""
    run_id = make_run()
    store.finish_run(run_id, "cancelled")
    with pytest.raises(StoreError, match="already finished"):
        store.finish_run(run_id, "succeeded")


def test_finish_run_refuses_a_non_final_status(
    store: RunStore, make_run: Callable[..., str]
) -> None:
    """finish_run with "running" raises ValueError."""
    with pytest.raises(ValueError, match="running"):
        store.finish_run(make_run(), "running")


def test_retry_run_queues_next_attempt(store: RunStore, make_event: Callable[..., Event]) -> None:
    """retry_run queues attempt 2 for the same event, automation and subject."""
    event_id, _ = store.add_event(make_event())
    first = store.create_run("builder", event_id=event_id, subject_key="issue:12")
    store.finish_run(first, "failed", retryable=True)
    retry = store.get_run(store.retry_run(first, not_before=NOW))
    assert (retry.attempt, retry.event_id, retry.subject_key, retry.not_before) == (
        2,
        event_id,
        "issue:12",
        NOW,
    )


def test_mark_interrupted_running_marks_only_running(
    store: RunStore, make_run: Callable[..., str]
) -> None:
    """Only running runs become interrupted and retryable; their ids come back."""
    running = make_run()
    store.start_run(running, "w")
    queued = make_run()
    assert store.mark_interrupted_running() == [running]
    assert [store.get_run(r).status for r in (running, queued)] == ["interrupted", "queued"]


def test_interrupted_run_is_retryable_and_finished(
    store: RunStore, make_run: Callable[..., str]
) -> None:
    """An interrupted run is finished, retryable and says why."""
    run_id = make_run()
    store.start_run(run_id, "w")
    store.mark_interrupted_running()
    run = store.get_run(run_id)
    assert (run.retryable, run.finished, run.error is not None) == (True, True, True)


def test_spent_today_sums_only_today_and_the_automation(
    store: RunStore, make_run: Callable[..., str]
) -> None:
    """spent_today adds today's run costs of one automation, not yesterday's or others'."""
    for automation, when, cost in (
        ("builder", NOW, 1.5),
        ("builder", NOW - timedelta(hours=1), 0.5),
        ("builder", NOW - timedelta(days=1), 10.0),
        ("planner", NOW, 7.0),
    ):
        store.add_usage(make_run(automation, now=when), Usage(), cost)
    assert store.spent_today("builder", now=NOW) == 2.0
