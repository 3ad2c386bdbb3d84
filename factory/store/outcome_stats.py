"""Outcome figures per automation and prompt version, for the viewer and the auditor (read only).

Each output counts once, by its current fate (its latest outcome row). For one version:

- ``decided``: outputs with a fate; ``accepted``: those whose fate is in ``ACCEPTED_FATES``;
- ``accepted_rate`` = accepted / decided;
- ``zero_touch_rate`` = pull requests merged with no human commit or review / pull requests
  decided (None when the version decided no pull request);
- ``cost_per_accepted_usd`` = what every run of the version cost (failed ones too: they are
  the price of the accepted ones) / accepted (None when nothing was accepted);
- ``median_s_to_outcome``: median seconds from an output being written to its fate.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from factory.store.tables import ACCEPTED_FATES, outcomes, runs


@dataclass
class VersionOutcomes:
    """The outcome figures of one automation's prompt version."""

    automation: str
    content_hash: str
    decided: int = 0
    accepted: int = 0
    zero_touch: int = 0
    pull_requests: int = 0
    cost_usd: float = 0.0
    fates: dict[str, int] = field(default_factory=dict)
    median_s_to_outcome: float | None = None

    @property
    def accepted_rate(self) -> float | None:
        """Accepted / decided, or None when nothing was decided."""
        return self.accepted / self.decided if self.decided else None

    @property
    def zero_touch_rate(self) -> float | None:
        """Zero-touch merges / decided pull requests, or None when none was decided."""
        return self.zero_touch / self.pull_requests if self.pull_requests else None

    @property
    def cost_per_accepted_usd(self) -> float | None:
        """The version's total run cost per accepted outcome, or None when none was accepted."""
        return self.cost_usd / self.accepted if self.accepted else None

    def to_json(self) -> dict[str, Any]:
        """Return the figures as the ``.json`` pages give them."""
        return {
            "automation": self.automation,
            "content_hash": self.content_hash,
            "decided": self.decided,
            "accepted": self.accepted,
            "zero_touch": self.zero_touch,
            "pull_requests": self.pull_requests,
            "fates": dict(sorted(self.fates.items())),
            "accepted_rate": self.accepted_rate,
            "zero_touch_rate": self.zero_touch_rate,
            "cost_usd": round(self.cost_usd, 6),
            "cost_per_accepted_usd": self.cost_per_accepted_usd,
            "median_s_to_outcome": self.median_s_to_outcome,
        }


def _current_fates(conn: Connection, automation: str | None) -> list[Any]:
    ranked = select(
        outcomes.c.automation,
        outcomes.c.content_hash,
        outcomes.c.kind,
        outcomes.c.fate,
        outcomes.c.output_at,
        outcomes.c.decided_at,
        func.row_number()
        .over(
            partition_by=outcomes.c.output_id,
            order_by=(outcomes.c.decided_at.desc(), outcomes.c.id.desc()),
        )
        .label("rank"),
    )
    if automation is not None:
        ranked = ranked.where(outcomes.c.automation == automation)
    sub = ranked.subquery()
    return list(conn.execute(select(sub).where(sub.c.rank == 1)))


def _version_costs(conn: Connection, automation: str | None) -> dict[tuple[str, str], float]:
    query = select(runs.c.automation, runs.c.content_hash, func.sum(runs.c.cost_usd)).group_by(
        runs.c.automation, runs.c.content_hash
    )
    if automation is not None:
        query = query.where(runs.c.automation == automation)
    return {(a, h): float(c or 0.0) for a, h, c in conn.execute(query)}


def outcome_figures(conn: Connection, automation: str | None = None) -> list[VersionOutcomes]:
    """Return the figures of every (automation, version) with a decided outcome, sorted by
    automation then version; only ``automation``'s when given."""
    figures: dict[tuple[str, str], VersionOutcomes] = {}
    waits: dict[tuple[str, str], list[float]] = {}
    fates: dict[tuple[str, str], Counter[str]] = {}
    for row in _current_fates(conn, automation):
        key = (row.automation, row.content_hash)
        fig = figures.setdefault(key, VersionOutcomes(*key))
        fig.decided += 1
        fig.accepted += row.fate in ACCEPTED_FATES
        fig.zero_touch += row.fate == "merged_zero_touch"
        fig.pull_requests += row.kind == "pull_request"
        fates.setdefault(key, Counter())[row.fate] += 1
        seconds = (row.decided_at - row.output_at).total_seconds()
        waits.setdefault(key, []).append(seconds)
    costs = _version_costs(conn, automation) if figures else {}
    for key, fig in figures.items():
        fig.cost_usd = costs.get(key, 0.0)
        fig.fates = dict(fates[key])
        fig.median_s_to_outcome = statistics.median(waits[key])
    return [figures[k] for k in sorted(figures)]
