"""The factory page (and ``.json``): runs and spend per day, sources, lead times, failures.

The figures come from the store's daily rollups (factory/store/rollups.py), so the page
costs about the same on a store of a thousand runs or of a hundred thousand.
"""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from factory.store.metrics import DayCount
from factory.web.context import plain, viewer_of
from factory.web.svg import share_chart, stacked_chart

MAX_DAYS = 366


def by_outcome(points: list[DayCount]) -> list[DayCount]:
    """Return runs per day and outcome (``automation/status`` groups summed per status).

    The chart stacks one segment per outcome, a colour each (6 automations x 7 outcomes
    would be 42 segments a day in 8 colours, and thousands of bars over 90 days); the
    table and the JSON keep every automation/outcome.
    """
    totals: dict[tuple[str, str], float] = {}
    for p in points:
        key = (p.day, p.group.rsplit("/", 1)[-1])
        totals[key] = totals.get(key, 0.0) + p.value
    return [DayCount(day, status, value) for (day, status), value in totals.items()]


async def factory_page(request: Request) -> Response:
    """GET /factory and /factory.json (``?days=`` window, 30 by default)."""
    viewer = viewer_of(request)
    try:
        days = int(request.query_params.get("days", "30"))
    except ValueError:
        return plain("days must be a number", 400)
    if not 1 <= days <= MAX_DAYS:
        return plain(f"days must be between 1 and {MAX_DAYS}", 400)
    metrics = viewer.metrics.factory_metrics(days=days)
    if request.url.path.endswith(".json"):
        data = {f.name: getattr(metrics, f.name) for f in dataclasses.fields(metrics)}
        for name in ("runs_per_day", "spend_per_day"):
            data[name] = [{"day": p.day, "group": p.group, "value": p.value} for p in data[name]]
        data["no_human_share"] = metrics.no_human_share
        data["days"] = days
        return viewer.renderer.json(data)
    outcomes = by_outcome(metrics.runs_per_day)
    return viewer.renderer.html(
        "factory.html",
        runs_by_outcome=outcomes,
        m=metrics,
        days=days,
        runs_chart=stacked_chart(outcomes),
        spend_chart=stacked_chart(metrics.spend_per_day, unit="$"),
        source_chart=share_chart(metrics.runs_by_source),
        failure_chart=share_chart(metrics.failures_by_reason),
    )


def routes() -> list[Route]:
    """Return this module's routes."""
    return [Route("/factory", factory_page), Route("/factory.json", factory_page)]
