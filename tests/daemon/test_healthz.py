"""``/healthz`` over real HTTP: anonymous callers beyond loopback learn only the status."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from factory.daemon.server import HttpServer, build_daemon_app, health_route
from factory.web.auth import COOKIE

TOKEN = "healthz-viewer-token-0123456789"
"""The viewer token the daemon was configured with."""

DETAIL: dict[str, Any] = {
    "status": "ok",
    "version": "0.0.0",
    "queued": 2,
    "running": [{"run_id": "r1", "automation": "triage", "subject": "issue:7"}],
    "config_errors": ["automations/x.yaml:1:1: YAML syntax error"],
}
"""What the daemon's status callable reports (running subjects and config errors)."""


@pytest.fixture
def serve() -> Iterator[Callable[..., httpx.Client]]:
    """Start the daemon app with ``/healthz`` for a configured host and token on 127.0.0.1."""
    servers: list[HttpServer] = []
    clients: list[httpx.Client] = []

    def start(host: str, token: str | None, status: dict[str, Any] | None = None) -> httpx.Client:
        report = DETAIL if status is None else status
        app = build_daemon_app([health_route(lambda: report, host=host, token=token)])
        server = HttpServer(app, "127.0.0.1", 0)
        server.start()
        servers.append(server)
        client = httpx.Client(base_url=f"http://127.0.0.1:{server.port}")
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.close()
    for server in servers:
        server.stop()


def test_loopback_bind_without_token_shows_full_detail(
    serve: Callable[..., httpx.Client],
) -> None:
    """On a loopback bind with no token configured, anyone local gets the full report."""
    client = serve("127.0.0.1", None)
    assert client.get("/healthz").json() == DETAIL


def test_anonymous_caller_beyond_loopback_gets_only_the_status(
    serve: Callable[..., httpx.Client],
) -> None:
    """Bound beyond loopback with a token, a caller without it gets ``{"status": "ok"}``."""
    client = serve("0.0.0.0", TOKEN)
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_anonymous_caller_sees_a_failing_status(serve: Callable[..., httpx.Client]) -> None:
    """An anonymous caller still learns that the daemon is stopping, and nothing more."""
    client = serve("0.0.0.0", TOKEN, {**DETAIL, "status": "stopping"})
    assert client.get("/healthz").json() == {"status": "stopping"}


def test_bearer_token_shows_full_detail(serve: Callable[..., httpx.Client]) -> None:
    """A caller presenting the viewer token as a Bearer header gets the full report."""
    client = serve("0.0.0.0", TOKEN)
    response = client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.json() == DETAIL


def test_viewer_cookie_shows_full_detail(serve: Callable[..., httpx.Client]) -> None:
    """A browser holding the viewer's token cookie gets the full report."""
    client = serve("0.0.0.0", TOKEN)
    response = client.get("/healthz", headers={"Cookie": f"{COOKIE}={TOKEN}"})
    assert response.json() == DETAIL


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer wrong-token-0123456789"}, {"Cookie": f"{COOKIE}=wrong-token-01234"}],
    ids=["bearer", "cookie"],
)
def test_wrong_token_is_forbidden(
    serve: Callable[..., httpx.Client], headers: dict[str, str]
) -> None:
    """A caller presenting a wrong token is refused with 403, as the viewer refuses it."""
    client = serve("0.0.0.0", TOKEN)
    assert client.get("/healthz", headers=headers).status_code == 403


def test_query_token_does_not_unlock_detail(serve: Callable[..., httpx.Client]) -> None:
    """``?token=`` is not accepted on ``/healthz`` (it would linger in probe logs)."""
    client = serve("0.0.0.0", TOKEN)
    assert client.get("/healthz", params={"token": TOKEN}).json() == {"status": "ok"}


def test_token_on_loopback_bind_still_guards_detail(serve: Callable[..., httpx.Client]) -> None:
    """A token configured on a loopback bind guards the detail as it guards the viewer."""
    client = serve("127.0.0.1", TOKEN)
    assert client.get("/healthz").json() == {"status": "ok"}


def test_non_loopback_bind_without_token_shows_only_the_status(
    serve: Callable[..., httpx.Client],
) -> None:
    """Bound beyond loopback with no token at all, nobody gets the detail."""
    client = serve("0.0.0.0", None)
    assert client.get("/healthz").json() == {"status": "ok"}
