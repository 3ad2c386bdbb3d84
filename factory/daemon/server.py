"""The daemon's HTTP port: ``/healthz``, the GitHub webhook route, and the viewer.

One uvicorn server in a thread; ``HttpServer.stop()`` ends it within a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from factory.daemon.runenv import GitHubSide
from factory.sources.github_webhooks import github_webhook_route
from factory.store.event_log import EventLog
from factory.web.auth import is_loopback, presented_token, token_matches

log = structlog.get_logger(__name__)


def health_route(status: Callable[[], dict[str, Any]], *, host: str, token: str | None) -> Route:
    """Return ``GET /healthz`` answering ``status()`` as JSON (200).

    The full report (running subjects, config errors) goes only to a caller presenting the
    viewer ``token`` (Bearer header or the viewer's cookie), or to anyone when the daemon
    binds loopback ``host`` with no token configured. Everyone else gets ``{"status": ...}``
    alone, enough for a probe. A wrong token is refused with 403, as the viewer refuses it.
    """
    open_detail = token is None and is_loopback(host)

    async def healthz(request: Request) -> Response:
        report = status()
        if open_detail:
            return JSONResponse(report)
        presented = presented_token(request.headers)
        if presented is None:
            return JSONResponse({"status": report["status"]})
        if token is None or not token_matches(presented, token):
            return PlainTextResponse("forbidden: wrong token", status_code=403)
        return JSONResponse(report)

    return Route("/healthz", healthz, methods=["GET"])


def webhook_route(
    store: EventLog, secret: SecretStr | None, gh: GitHubSide, on_stored: Callable[[], None]
) -> Route:
    """Return ``POST /webhooks/github`` for this factory's repository: trust from ``gh``'s
    policy and resolver (dropped on membership changes), the factory's own login marked."""
    return github_webhook_route(
        store,
        secret,
        trust_resolver=gh.resolve,
        trust_policy=gh.trust,
        repository=gh.repo.full_name,
        on_membership=getattr(gh.resolve, "forget", None),
        bot_logins=[gh.bot_login] if gh.bot_login else [],
        on_stored=on_stored,
    )


def build_daemon_app(routes: Sequence[BaseRoute], viewer: Starlette | None = None) -> Starlette:
    """Return the daemon's app: ``routes`` first, then the viewer mounted at ``/``."""
    everything = list(routes)
    if viewer is not None:
        everything.append(Mount("/", app=viewer))
    return Starlette(routes=everything)


class HttpServer:
    """uvicorn serving an app in a background thread."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
                lifespan="off",
                log_config=None,  # uvicorn logs through the root handler and its redactor
            )
        )
        # Run in a thread, uvicorn leaves signal handling to the daemon's main thread.
        self.thread = threading.Thread(target=self.server.run, name="http", daemon=True)

    def start(self, timeout_s: float = 10.0) -> None:
        """Start serving; return once the port accepts connections.

        Raises OSError if the server did not come up within ``timeout_s``.
        """
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise OSError("the HTTP server did not start (is the port in use?)")
            time.sleep(0.02)

    @property
    def port(self) -> int:
        """The bound port (useful when started on port 0)."""
        for server in self.server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise OSError("the HTTP server is not listening")

    def stop(self) -> None:
        """Ask the server to exit and wait briefly for it."""
        self.server.should_exit = True
        self.thread.join(timeout=3)
