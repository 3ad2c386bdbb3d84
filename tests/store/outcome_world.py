"""A store holding two builder prompt versions whose pull requests met each fate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from factory.interfaces import Usage
from factory.store import RunStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
V1, V2 = "v1" * 32, "v2" * 32
V1_FATES = (
    ("merged_zero_touch",),
    ("merged_after_human_changes",),
    ("closed_unmerged",),
    ("merged_zero_touch", "reverted"),
)
"""Each v1 pull request's fates, in order; the pull request numbers are 1..4."""


def _pull(store: RunStore, run_id: str, number: int) -> int:
    output_id, _ = store.record_output_intent(
        run_id, "open_pull_request", f"{run_id}:pr:{number}", {"target": None, "payload": {}}
    )
    store.mark_output(output_id, "applied", {"number": number}, now=T0)
    return output_id


def _run(store: RunStore, version: str, cost: float, status: str) -> str:
    run_id = store.create_run("builder", content_hash=version, now=T0)
    store.start_run(run_id, "w", now=T0)
    store.add_usage(run_id, Usage(10, 10, 0, 0), cost)
    store.finish_run(run_id, status, now=T0)
    return run_id


def seed_outcomes(store: RunStore) -> None:
    """v1: runs costing $1 (succeeded) and $3 (failed), four PRs (``V1_FATES``), each fate
    decided ``number`` hours after its output; v2: one run costing $2, one zero-touch PR."""
    run = _run(store, V1, 1.0, "succeeded")
    _run(store, V1, 3.0, "failed")
    for number, fates in enumerate(V1_FATES, start=1):
        output_id = _pull(store, run, number)
        for step, fate in enumerate(fates):
            store.record_outcome(
                output_id,
                fate,
                subject_key=f"pull_request:{number}",
                kind="pull_request",
                decided_at=T0 + timedelta(hours=number, minutes=step),
                event_id=100 * number + step,
            )
    v2 = _run(store, V2, 2.0, "succeeded")
    store.record_outcome(
        _pull(store, v2, 9),
        "merged_zero_touch",
        subject_key="pull_request:9",
        kind="pull_request",
        decided_at=T0 + timedelta(minutes=30),
    )
