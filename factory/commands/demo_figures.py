"""The full demo's printout, from the daemon's store: the timeline and the factory figures.

The timeline is one line per issue a person opened: when it was opened, when its pull
request (the applied ``open_pull_request`` of a run on it) was opened and merged, each with the time
since the issue was opened. The figures are ``MetricsQueries.factory_metrics``: median issue
→ close and pull request → merge, and the share of merged factory pull requests that never
needed a human (no needs-human label).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from factory.store import RunStore
from factory.store.metrics import MetricsQueries


def _first(store: RunStore, key: str, kind: str) -> datetime | None:
    found = store.subject_events(key, [kind])
    return found[0].event.received_at if found else None


def _merged_at(store: RunStore, key: str) -> datetime | None:
    for record in store.subject_events(key, ["pull_request.closed"]):
        pull = record.event.payload.get("pull_request")
        if isinstance(pull, dict) and pull.get("merged"):
            return record.event.received_at
    return None


def _pulls_of(store: RunStore, key: str) -> list[int]:
    """The pull requests the runs on ``key`` opened (their applied open_pull_request)."""
    found = []
    for run in reversed(store.list_runs(subject=key, limit=100)):
        for output in store.outputs_for_run(run.id):
            result = output.result if isinstance(output.result, dict) else {}
            if output.kind == "open_pull_request" and output.status == "applied":
                found.append(int(result["number"]))
    return found


def _since(start: datetime, when: datetime) -> str:
    return f"+{(when - start).total_seconds():.1f}s"


def timeline(db: Path, issues: list[int]) -> list[str]:
    """One line per issue: issue opened → PR opened → merged, each with its time since the
    issue was opened (the store's events and its issue → pull request links)."""
    lines = []
    with RunStore.open(db, readonly=True) as store:
        for number in issues:
            key = f"issue:{number}"
            found = store.subject_events(key, ["issues.opened"])
            if not found:
                continue
            start = found[0].event.received_at
            issue = found[0].event.payload.get("issue")
            title = issue.get("title", "") if isinstance(issue, dict) else ""
            line = f"#{number} {title!r}: opened"
            for pulled in _pulls_of(store, key):
                pull, pull_key = f"#{pulled}", f"pull_request:{pulled}"
                pr_at = _first(store, pull_key, "pull_request.opened")
                if pr_at is not None:
                    line += f" → PR {pull} {_since(start, pr_at)}"
                merged = _merged_at(store, pull_key)
                if merged is not None:
                    line += f" → merged {_since(start, merged)}"
            lines.append(line)
    return lines


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}s"


def figures(db: Path) -> list[str]:
    """The factory figures: median issue → close, PR → merge, share merged without a human."""
    with RunStore.open(db, readonly=True) as store:
        m = MetricsQueries(store).factory_metrics()
    share = m.no_human_share
    return [
        f"issue → close (median): {_seconds(m.issue_to_close_s)} over {m.issues_closed} issue(s)",
        f"PR → merge (median): {_seconds(m.pr_to_merge_s)} over {m.prs_merged} PR(s)",
        "merged without a human: "
        + ("n/a" if share is None else f"{share:.0%}")
        + f" ({m.factory_prs_without_human} of {m.factory_prs_merged} factory PRs)",
    ]
