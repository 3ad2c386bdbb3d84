"""Outcome figures per automation and prompt version, each output counted by its latest fate."""

from __future__ import annotations

import pytest

from factory.store import RunStore
from factory.store.outcome_stats import VersionOutcomes
from tests.store.outcome_world import V1, V2, seed_outcomes


@pytest.fixture
def figures(store: RunStore) -> dict[str, VersionOutcomes]:
    """The seeded store's figures, by prompt version."""
    seed_outcomes(store)
    return {f.content_hash: f for f in store.outcome_figures("builder")}


def test_reverted_merge_is_not_accepted(figures: dict[str, VersionOutcomes]) -> None:
    """Of four decided PRs (one merged then reverted), two count as accepted."""
    assert (figures[V1].decided, figures[V1].accepted, figures[V1].accepted_rate) == (4, 2, 0.5)


def test_zero_touch_rate_counts_only_current_zero_touch_merges(
    figures: dict[str, VersionOutcomes],
) -> None:
    """The reverted PR was zero-touch once; only the one still merged counts."""
    assert figures[V1].zero_touch_rate == 0.25


def test_cost_per_accepted_includes_failed_runs(figures: dict[str, VersionOutcomes]) -> None:
    """$1 + $3 (the failed run too) over two accepted outcomes is $2 each."""
    assert figures[V1].cost_per_accepted_usd == 2.0


def test_median_time_to_outcome_uses_the_latest_fate(
    figures: dict[str, VersionOutcomes],
) -> None:
    """Fates 1 h, 2 h, 3 h and 4 h 1 min after their outputs have a median of 2.5 h."""
    assert figures[V1].median_s_to_outcome == 2.5 * 3600


def test_fates_count_each_output_once(figures: dict[str, VersionOutcomes]) -> None:
    """The fates tally has one entry per output: its latest fate."""
    assert figures[V1].fates == {
        "merged_zero_touch": 1,
        "merged_after_human_changes": 1,
        "closed_unmerged": 1,
        "reverted": 1,
    }


def test_versions_are_kept_apart(figures: dict[str, VersionOutcomes]) -> None:
    """The second prompt version has its own figures: one accepted PR for its $2 run."""
    v2 = figures[V2]
    assert (v2.decided, v2.accepted_rate, v2.cost_per_accepted_usd) == (1, 1.0, 2.0)


def test_nothing_accepted_gives_no_cost_per_accepted(store: RunStore) -> None:
    """A version whose only outcome was a close has no cost per accepted outcome."""
    run_id = store.create_run("builder", content_hash="v3")
    output_id, _ = store.record_output_intent(run_id, "open_pull_request", "k", {"target": None})
    store.mark_output(output_id, "applied", {"number": 5})
    store.record_outcome(
        output_id, "closed_unmerged", subject_key="pull_request:5", kind="pull_request",
        decided_at=store.get_output(output_id).updated_at,
    )  # fmt: skip
    [only] = store.outcome_figures("builder")
    assert (only.accepted_rate, only.cost_per_accepted_usd) == (0.0, None)


def test_unknown_fate_is_refused(store: RunStore) -> None:
    """record_outcome raises ValueError for a fate outside OUTCOME_FATES."""
    with pytest.raises(ValueError, match="landed"):
        store.record_outcome(1, "landed", subject_key="x", kind="pull_request", decided_at=None)  # type: ignore[arg-type]
