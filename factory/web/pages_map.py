"""The factory as a map (``/map`` and ``/map.json``): automations as a graph drawn on the
server as SVG, an edge where one automation's outputs are another's triggers (derived from
the YAML, see factory.web.flow), counts per edge over the last 24 hours and 7 days, queued
and running runs per automation, and where work waits.

The YAML comes from the automations folder in daemon mode; standalone, from the newest run
of each automation (every run stores the YAML it started with).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from factory.config.automation import AutomationSpec
from factory.config.harness import Labels
from factory.config.loader import load_factory
from factory.config.yamlpos import parse_yaml
from factory.errors import ConfigError
from factory.events import utcnow
from factory.store.flowstats import FlowQueries, HandOver, LiveCount
from factory.store.stats import RunFilter
from factory.web.context import Viewer, viewer_of
from factory.web.flow import SOURCES, Edge, flow_edges
from factory.web.svg_graph import layout

SOURCE_TEXT = {
    "source:slack": "Slack",
    "source:sentry": "Sentry",
    "source:github": "GitHub",
    "source:schedule": "Schedules",
    "source:manual": "Manual runs",
}


@dataclasses.dataclass(frozen=True)
class EdgeView:
    """One edge with its counts (last 24 h, last 7 days)."""

    edge: Edge
    day: int
    week: int


def _specs(viewer: Viewer) -> tuple[dict[str, AutomationSpec], Labels, str]:
    """Return the automations, the label names, and where they were read from."""
    if viewer.automations_dir is not None and viewer.harness_dir is not None:
        try:
            config = load_factory(viewer.automations_dir, viewer.harness_dir)
        except ConfigError:
            pass
        else:
            specs: dict[str, AutomationSpec] = dict(config.automations)
            return specs, config.policy.labels, "folder"
    found: dict[str, AutomationSpec] = {}
    for name in viewer.stats.automation_names():
        newest = viewer.stats.list_runs(RunFilter(automation=name, limit=1))
        doc, _ = parse_yaml(newest[0].run.prompt_snapshot, name) if newest else (None, [])
        if doc is None or not isinstance(doc.data, dict):
            continue
        try:
            found[name] = AutomationSpec.model_validate(doc.data)
        except ValidationError:
            continue
    return found, Labels(), "runs"


def _counted(edge: Edge, outputs: list[HandOver]) -> int:
    return sum(
        1
        for o in outputs
        if o.automation == edge.source
        and o.kind == edge.output_kind
        and (edge.label is None or edge.label in o.labels)
    )


def _note(live: LiveCount | None) -> str:
    if live is None:
        return "idle"
    parts = [f"{live.queued} queued", f"{live.running} running"]
    if live.backing_off:
        parts.append(f"{live.backing_off} backing off")
    return " · ".join(parts)


def map_data(viewer: Viewer) -> dict[str, Any]:
    """Return everything the map shows: specs' edges with counts, live counts, waiting work."""
    specs, labels, read_from = _specs(viewer)
    flow = FlowQueries(viewer.store)
    now = utcnow()
    day, week = now - timedelta(days=1), now - timedelta(days=7)
    week_outputs = flow.hand_overs(week)
    day_outputs = [o for o in week_outputs if o.at >= day]
    by_source = flow.runs_by_source(specs, week, day)
    views = []
    for edge in flow_edges(specs, [labels.ready]):
        if edge.source.startswith("source:"):
            counts = by_source.get((edge.target, edge.source.removeprefix("source:")), (0, 0))
            views.append(EdgeView(edge, counts[0], counts[1]))
        else:
            views.append(EdgeView(edge, _counted(edge, day_outputs), _counted(edge, week_outputs)))
    live = flow.live(now)
    waiting = flow.waiting([labels.needs_human, labels.blocked])
    return {
        "specs": specs,
        "edges": views,
        "live": live,
        "waiting": waiting,
        "read_from": read_from,
    }


def _graph(data: dict[str, Any]) -> Any:
    """Return the drawing: one curve per pair of nodes (its edges' largest counts)."""
    edges: list[EdgeView] = data["edges"]
    used = {e.edge.source for e in edges}
    nodes = [
        (s, SOURCE_TEXT[s], "source", "") for s in (f"source:{x}" for x in SOURCES) if s in used
    ]
    nodes += [(name, name, "automation", _note(data["live"].get(name))) for name in data["specs"]]
    pairs: dict[tuple[str, str], list[EdgeView]] = {}
    for e in edges:
        pairs.setdefault((e.edge.source, e.edge.target), []).append(e)
    lines = [
        (
            a,
            b,
            f"{max(e.day for e in group)} / {max(e.week for e in group)}",
            "; ".join(f"{e.edge.via}: {e.day} in 24 h, {e.week} in 7 d" for e in group),
            "edge person" if all(e.edge.needs_person for e in group) else "edge",
        )
        for (a, b), group in pairs.items()
    ]
    return layout(nodes, lines)


async def map_page(request: Request) -> Response:
    """GET /map and /map.json."""
    viewer = viewer_of(request)
    data = map_data(viewer)
    if request.url.path.endswith(".json"):
        return viewer.renderer.json(
            {
                "read_from": data["read_from"],
                "automations": [
                    {"name": name, **dataclasses.asdict(data["live"].get(name, LiveCount()))}
                    for name in data["specs"]
                ],
                "edges": [
                    {
                        **dataclasses.asdict(e.edge),
                        "needs_person": e.edge.needs_person,
                        "last_24h": e.day,
                        "last_7d": e.week,
                    }
                    for e in data["edges"]
                ],
                "waiting": [dataclasses.asdict(w) for w in data["waiting"]],
            }
        )
    return viewer.renderer.html("map.html", graph=_graph(data), **data)


def routes() -> list[Route]:
    """Return this module's routes."""
    return [Route("/map", map_page), Route("/map.json", map_page)]
