"""Source test helpers: a real uvicorn server and signed webhook deliveries."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

WEBHOOKS = Path(__file__).resolve().parents[1] / "data" / "github-webhooks"
SECRET = "It's a Secret to Everybody"


def sign(body: bytes, secret: str = SECRET) -> str:
    """Return the X-Hub-Signature-256 value GitHub would send for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers_for(event: str, body: bytes, *, delivery: str | None = None) -> dict[str, str]:
    """Return GitHub's delivery headers for ``body``, signed with SECRET."""
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body),
        "Content-Type": "application/json",
    }


def event_name_of(path: Path) -> str:
    """Return the X-GitHub-Event for a fixture named ``EVENT.ACTION.N.json``."""
    return path.name.split(".")[0]


@pytest.fixture(name="sign")
def sign_fixture() -> Callable[..., str]:
    """The ``sign(body, secret=SECRET)`` helper, for tests."""
    return sign


@pytest.fixture(name="headers_for")
def headers_for_fixture() -> Callable[..., dict[str, str]]:
    """The ``headers_for(event, body, delivery=None)`` helper, for tests."""
    return headers_for


class _Switch:
    """An ASGI app that hands every request to the app a test installed last."""

    def __init__(self) -> None:
        self.app: ASGIApp = Starlette()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def _server() -> Iterator[tuple[str, _Switch]]:
    """One real uvicorn server on 127.0.0.1 for the session; tests swap the app it serves."""
    switch = _Switch()
    config = uvicorn.Config(switch, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", switch
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def served(_server: tuple[str, _Switch]) -> Iterator[Callable[[Route], httpx.Client]]:
    """Return a function that serves a route over real HTTP and gives an httpx client for it."""
    base, switch = _server
    clients: list[httpx.Client] = []

    def start(route: Route) -> httpx.Client:
        switch.app = Starlette(routes=[route])
        client = httpx.Client(base_url=base, timeout=10)
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.close()
    switch.app = Starlette()
