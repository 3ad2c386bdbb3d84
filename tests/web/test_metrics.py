"""Factory metrics from stored events and runs: lead times, no-human share, failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from factory.events import Event, Subject
from factory.interfaces import Usage
from factory.store import RunStore
from factory.store.metrics import DayCount, MetricsQueries
from factory.store.stats import StatsQueries
from factory.web.svg import stacked_chart

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def add(store: RunStore, kind: str, number: int, hours: float, **fields: Any) -> None:
    """Store a GitHub event about issue/PR ``number`` at T0 + hours."""
    subject_kind = "pull_request" if kind.startswith("pull_request") else "issue"
    store.add_event(
        Event(
            source="github",
            kind=kind,
            dedup_key=f"{kind}-{number}-{hours}",
            subject=Subject(kind=subject_kind, number=number),
            received_at=T0 + timedelta(hours=hours),
            **fields,
        )
    )


def test_median_issue_to_close(writer: RunStore) -> None:
    """The median of opened→closed over closed issues is reported."""
    for number, hours in ((1, 2.0), (2, 4.0), (3, 9.0)):
        add(writer, "issues.opened", number, 0)
        add(writer, "issues.closed", number, hours)
    add(writer, "issues.opened", 4, 0)
    metrics = MetricsQueries(writer).factory_metrics(now=T0)
    assert (metrics.issue_to_close_s, metrics.issues_closed) == (4 * 3600, 3)


def test_pr_merge_time_counts_only_merged(writer: RunStore) -> None:
    """A PR closed without merging does not count toward open→merged."""
    add(writer, "pull_request.opened", 7, 0)
    add(writer, "pull_request.closed", 7, 1, payload={"pull_request": {"merged": True}})
    add(writer, "pull_request.opened", 8, 0)
    add(writer, "pull_request.closed", 8, 5, payload={"pull_request": {"merged": False}})
    metrics = MetricsQueries(writer).factory_metrics(now=T0)
    assert (metrics.pr_to_merge_s, metrics.prs_merged) == (3600, 1)


def test_no_human_share_excludes_needs_human_prs(writer: RunStore) -> None:
    """Merged factory PRs that got needs-human count against the no-human share."""
    for number in (1, 2):
        add(writer, "pull_request.opened", number, 0, by_factory=True)
        add(writer, "pull_request.closed", number, 1, payload={"pull_request": {"merged": True}})
    add(writer, "pull_request.labeled", 2, 0.5, payload={"label": {"name": "needs-human"}})
    assert MetricsQueries(writer).factory_metrics(now=T0).no_human_share == 0.5


def test_failures_grouped_by_reason(writer: RunStore) -> None:
    """Failed runs are counted per stop reason."""
    for _ in range(2):
        run = writer.create_run("builder")
        writer.start_run(run, "w")
        writer.finish_run(run, "failed", stop_reason="turn limit")
    assert MetricsQueries(writer).factory_metrics().failures_by_reason == {"turn limit": 2}


def test_stacked_chart_scales_the_tallest_day_to_the_plot() -> None:
    """The day with the largest total fills the plot height exactly."""
    chart = stacked_chart([DayCount("d1", "a", 2), DayCount("d1", "b", 2), DayCount("d2", "a", 1)])
    d1 = [b for b in chart.bars if b.title.startswith("d1")]
    assert round(sum(b.height for b in d1), 6) == chart.height - 48


def test_prompt_version_medians_skip_unfinished_and_skipped_runs(writer: RunStore) -> None:
    """Median cost and success rate count finished runs only, per content hash."""
    for cost, status in ((1.0, "succeeded"), (2.0, "failed"), (10.0, "succeeded")):
        run = writer.create_run("builder", content_hash="v1")
        writer.start_run(run, "w")
        writer.add_usage(run, Usage(1, 1, 0, 0), cost)
        writer.finish_run(run, status)
    writer.create_run("builder", content_hash="v1", status="skipped", stop_reason="busy")
    writer.create_run("builder", content_hash="v1")
    (version,) = StatsQueries(writer).prompt_versions()
    assert (version.runs, version.median_cost_usd, version.success_rate) == (5, 2.0, 2 / 3)
