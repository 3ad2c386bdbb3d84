"""Read-only figures behind live-against-shadow: runs, successes, cost and outputs per automation.

A shadow (``shadow_of:``) runs on its live automation's events with every output staged, so
its outputs are ``staged`` rows where the live one's are ``applied``; comparing the two
automations' figures side by side is how a prompt edit is judged before it goes live.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import distinct, func, select

from factory.store.dialect import count_true
from factory.store.runstore import RunStore
from factory.store.tables import outputs, runs


@dataclass(frozen=True)
class AutomationTally:
    """One automation's figures over all its runs (skipped runs not counted)."""

    automation: str
    runs: int
    succeeded: int
    cost_usd: float
    applied: int
    """Outputs performed."""
    staged: int
    """Outputs recorded as would-have."""
    refused: int
    """Outputs the checks refused."""


class ShadowQueries:
    """Figures for comparing a live automation with its shadow."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def tally(self, names: Collection[str]) -> dict[str, AutomationTally]:
        """Return each named automation's figures (zeros for one without runs)."""
        wanted = sorted(set(names))
        counted = {name: [0, 0, 0.0] for name in wanted}
        by_status = {name: {"applied": 0, "staged": 0, "refused": 0} for name in wanted}
        run_query = (
            select(
                runs.c.automation,
                func.count(),
                count_true(runs.c.status == "succeeded"),
                func.sum(runs.c.cost_usd),
            )
            .where(runs.c.automation.in_(wanted), runs.c.status != "skipped")
            .group_by(runs.c.automation)
        )
        output_query = (
            select(runs.c.automation, outputs.c.status, func.count())
            .select_from(outputs.join(runs, outputs.c.run_id == runs.c.id))
            .where(runs.c.automation.in_(wanted))
            .group_by(runs.c.automation, outputs.c.status)
        )
        with self.store._read() as conn:
            for name, count, succeeded, cost in conn.execute(run_query):
                counted[name] = [int(count), int(succeeded or 0), float(cost or 0.0)]
            for name, status, count in conn.execute(output_query):
                if status in by_status[name]:
                    by_status[name][status] = int(count)
        return {
            name: AutomationTally(
                name,
                int(counted[name][0]),
                int(counted[name][1]),
                float(counted[name][2]),
                **by_status[name],
            )
            for name in wanted
        }

    def shared_events(self, live: str, shadow: str) -> int:
        """Return how many events started a run (not skipped) of both ``live`` and ``shadow``."""
        of_live = select(runs.c.event_id).where(
            runs.c.automation == live, runs.c.event_id.is_not(None), runs.c.status != "skipped"
        )
        query = select(func.count(distinct(runs.c.event_id))).where(
            runs.c.automation == shadow, runs.c.event_id.in_(of_live), runs.c.status != "skipped"
        )
        with self.store._read() as conn:
            return int(conn.execute(query).scalar_one())
