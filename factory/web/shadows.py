"""Live against shadow on the automations page: each shadow beside the automation it shadows."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from factory.config.automation import Automation
from factory.store.runstore import RunStore
from factory.store.shadowstats import ShadowQueries


def shadow_comparisons(store: RunStore, configs: Mapping[str, Automation]) -> list[dict[str, Any]]:
    """Return one comparison per shadow in ``configs``, by shadow name: {live, shadow,
    shared_events, figures: {live: tally, shadow: tally}} (tallies as dicts)."""
    pairs = sorted((a.name, a.shadow_of) for a in configs.values() if a.shadow_of is not None)
    if not pairs:
        return []
    queries = ShadowQueries(store)
    tallies = queries.tally({name for pair in pairs for name in pair})
    return [
        {
            "live": live,
            "shadow": shadow,
            "shared_events": queries.shared_events(live, shadow),
            "figures": {
                "live": dataclasses.asdict(tallies[live]),
                "shadow": dataclasses.asdict(tallies[shadow]),
            },
        }
        for shadow, live in pairs
    ]
