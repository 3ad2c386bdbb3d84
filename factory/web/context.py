"""What every page handler shares: the Viewer (store queries, renderer, options)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from factory.store import RunStore
from factory.store.metrics import MetricsQueries
from factory.store.search import SearchQueries
from factory.store.stats import StatsQueries
from factory.web.csrf import CsrfTokens
from factory.web.render import Renderer

EnqueueManual = Callable[[str], str]
"""Queue a manual run of the named automation; return the new run's id."""
DiskStatus = Callable[[], dict[str, object]]
"""The daemon's disk report (``/healthz``'s ``disk``): free space, reserve, runs waiting."""


@dataclass
class Viewer:
    """What every page handler needs: the store's queries, the renderer, the options."""

    store: RunStore
    renderer: Renderer
    csrf: CsrfTokens
    automations_dir: Path | None = None
    harness_dir: Path | None = None
    enqueue_manual: EnqueueManual | None = None
    disk_status: DiskStatus | None = None
    stats: StatsQueries = field(init=False)
    metrics: MetricsQueries = field(init=False)
    search: SearchQueries = field(init=False)

    def __post_init__(self) -> None:
        self.stats = StatsQueries(self.store)
        self.metrics = MetricsQueries(self.store)
        self.search = SearchQueries(self.store)


def viewer_of(request: Request) -> Viewer:
    """Return the Viewer the app was built with."""
    viewer = request.app.state.viewer
    assert isinstance(viewer, Viewer)
    return viewer


def plain(message: str, status_code: int) -> Response:
    """Return a short plain-text answer (errors of the POST endpoint)."""
    return PlainTextResponse(message, status_code=status_code)
