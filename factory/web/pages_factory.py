"""The factory page (and ``.json``): runs and spend per day, sources, lead times, failures."""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from factory.web.context import plain, viewer_of
from factory.web.svg import share_chart, stacked_chart

MAX_DAYS = 366


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
        data = dataclasses.asdict(metrics)
        data["no_human_share"] = metrics.no_human_share
        data["days"] = days
        return viewer.renderer.json(data)
    return viewer.renderer.html(
        "factory.html",
        m=metrics,
        days=days,
        runs_chart=stacked_chart(metrics.runs_per_day),
        spend_chart=stacked_chart(metrics.spend_per_day, unit="$"),
        source_chart=share_chart(metrics.runs_by_source),
        failure_chart=share_chart(metrics.failures_by_reason),
    )


def routes() -> list[Route]:
    """Return this module's routes."""
    return [Route("/factory", factory_page), Route("/factory.json", factory_page)]
