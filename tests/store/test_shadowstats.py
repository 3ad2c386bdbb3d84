"""Live-against-shadow figures from the store: runs, successes, cost, outputs by status."""

from __future__ import annotations

from factory.events import Event, Subject
from factory.interfaces import Usage
from factory.store import RunStore
from factory.store.shadowstats import AutomationTally, ShadowQueries


def _event(store: RunStore, key: str) -> int:
    event = Event(
        source="github",
        kind="issues.labeled",
        dedup_key=key,
        subject=Subject(kind="issue", number=1),
        actor="alice",
        trust="maintainers",
    )
    return store.add_event(event)[0]


def _run(store: RunStore, automation: str, event_id: int, status: str, cost: float = 0.0) -> str:
    run = store.create_run(automation, event_id=event_id, subject_key="issue:1")
    if status == "skipped":
        store.finish_run(run, "skipped", stop_reason="trust")
        return run
    store.start_run(run, "t")
    store.add_usage(run, Usage(input_tokens=1), cost)
    store.finish_run(run, status)
    return run


def test_tally_counts_runs_successes_cost_and_outputs(store: RunStore) -> None:
    """A shadow's figures count its runs, successes, cost and staged outputs."""
    first, second = _event(store, "k1"), _event(store, "k2")
    run = _run(store, "next", first, "succeeded", 0.5)
    _run(store, "next", second, "failed", 0.25)
    store.record_output_intent(run, "comment", "s:comment:1", {"target": 1}, status="staged")
    store.record_output_intent(run, "comment", "s:comment:2", {"target": 1}, status="staged")
    assert ShadowQueries(store).tally(["next"])["next"] == AutomationTally(
        "next", runs=2, succeeded=1, cost_usd=0.75, applied=0, staged=2, refused=0
    )


def test_tally_leaves_skipped_runs_out(store: RunStore) -> None:
    """Skipped runs (trust, budget) are not counted as runs."""
    _run(store, "next", _event(store, "k1"), "skipped")
    assert ShadowQueries(store).tally(["next"])["next"].runs == 0


def test_tally_of_an_automation_without_runs_is_zeros(store: RunStore) -> None:
    """A shadow that has not run yet has all-zero figures."""
    assert ShadowQueries(store).tally(["next"])["next"] == AutomationTally(
        "next", 0, 0, 0.0, 0, 0, 0
    )


def test_shared_events_count_events_both_ran_on(store: RunStore) -> None:
    """Shared events are those with a not-skipped run of both live and shadow."""
    both, only_live, skipped = _event(store, "k1"), _event(store, "k2"), _event(store, "k3")
    for automation in ("builder", "next"):
        _run(store, automation, both, "succeeded")
        _run(store, automation, skipped, "skipped")
    _run(store, "builder", only_live, "succeeded")
    assert ShadowQueries(store).shared_events("builder", "next") == 1
