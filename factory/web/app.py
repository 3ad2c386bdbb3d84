"""Building the viewer's Starlette app, and serving it with uvicorn.

The viewer reads the store read-only. In daemon mode it is also given the automations
folder (for current YAML, triggers, next fire times) and an ``enqueue_manual(name) ->
run_id`` callable behind the "Run now" button; standalone (``factoryd viewer --db``) it
has neither, and the button is hidden (POST answers 409).
"""

from __future__ import annotations

from pathlib import Path

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from factory.errors import RunNotFound, StepNotFound
from factory.store import RunStore
from factory.store.pg_engine import safe_url
from factory.web import (
    pages_automations,
    pages_diff,
    pages_factory,
    pages_map,
    pages_runs,
    pages_search,
    pages_subjects,
)
from factory.web.auth import TokenMiddleware, check_bind
from factory.web.context import DiskStatus, EnqueueManual, Viewer, viewer_of
from factory.web.csrf import CsrfTokens
from factory.web.render import Renderer

log = structlog.get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_PORT = 8765


async def _not_found(request: Request, exc: Exception) -> Response:
    return viewer_of(request).renderer.html("error.html", status_code=404, message=str(exc))


async def _home(request: Request) -> Response:
    return RedirectResponse("/runs", status_code=307)


def build_app(
    store: RunStore,
    *,
    automations_dir: Path | None = None,
    harness_dir: Path | None = None,
    enqueue_manual: EnqueueManual | None = None,
    token: str | None = None,
    csrf_secret: bytes | None = None,
    disk_status: DiskStatus | None = None,
) -> Starlette:
    """Return the viewer app on ``store`` (open it read-only unless you must write).

    With ``token`` every request must present it (see factory.web.auth). Raises ValueError
    for a token shorter than 16 characters.
    """
    renderer = Renderer({"manual_enabled": enqueue_manual is not None})
    viewer = Viewer(
        store=store,
        renderer=renderer,
        csrf=CsrfTokens(csrf_secret),
        automations_dir=automations_dir,
        harness_dir=harness_dir,
        enqueue_manual=enqueue_manual,
        disk_status=disk_status,
    )
    routes = [
        Route("/", _home),
        *pages_diff.routes(),
        *pages_runs.routes(),
        *pages_automations.routes(),
        *pages_factory.routes(),
        *pages_search.routes(),
        *pages_subjects.routes(),
        *pages_map.routes(),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(TokenMiddleware, token=token)] if token else []
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={RunNotFound: _not_found, StepNotFound: _not_found},
    )
    app.state.viewer = viewer
    return app


def serve_viewer(
    location: Path | str,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    *,
    automations_dir: Path | None = None,
    harness_dir: Path | None = None,
    enqueue_manual: EnqueueManual | None = None,
) -> None:
    """Serve the viewer on the store at ``location`` (opened read-only) until interrupted.

    ``location`` is a SQLite file or a database URL (the shared PostgreSQL store of a
    distributed factory). Raises ValueError when ``host`` is not loopback and no token is
    given, StoreError when the database is missing or not fully migrated.
    """
    check_bind(host, token)
    store = RunStore.open(location, readonly=True)
    try:
        app = build_app(
            store,
            automations_dir=automations_dir,
            harness_dir=harness_dir,
            enqueue_manual=enqueue_manual,
            token=token,
        )
        shown = safe_url(location) if isinstance(location, str) else str(location)
        log.info("viewer_started", host=host, port=port, db=shown, token=bool(token))
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        store.close()
