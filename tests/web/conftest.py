"""Fixtures for the viewer tests: a seeded store, a real uvicorn server on 127.0.0.1, httpx.

The seeded store carries HTML/JS injection payloads in an issue title, an agent message
and a tool result, and a canary secret in a step payload (registered in the redactor).
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from factory.events import Event, Subject
from factory.interfaces import Usage
from factory.logs import redactor
from factory.store import RunStore
from factory.web import build_app

INJECTIONS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(2)>')
"""HTML/JS payloads put in an issue title, an agent message and a tool result."""
CANARY = "canary-SECRET-7f3a9c2e51d04b8e"
"""A secret value registered in the redactor and written into a step payload."""
TOKEN = "viewer-token-0123456789abcdef"
LONG_RESULT = "\n".join(f"line {i} of a long tool output" for i in range(60))
DIFF = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-old = 1\n+new = 2\n"


@dataclass(frozen=True)
class Seeded:
    """Ids of the seeded runs."""

    finished: str
    running: str
    other: str


def seed(store: RunStore) -> Seeded:
    """Fill ``store`` with a finished builder run (injections, canary), a running one, another."""
    title = f"Fix login {INJECTIONS[0]} {INJECTIONS[1]}"
    event = Event(
        source="github",
        kind="issues.labeled",
        dedup_key="gh-delivery-1",
        subject=Subject(kind="issue", number=12, title=title, url="javascript:alert(3)"),
        actor="octocat",
        trust="maintainers",
        payload={"issue": {"title": title}},
    )
    event_id, _ = store.add_event(event)
    finished = store.create_run(
        "builder", event_id=event_id, subject_key="issue:12", content_hash="a" * 64,
        prompt_snapshot=f"Issue #12: {title}",
    )  # fmt: skip
    store.start_run(finished, "worker-1")
    request = {"messages": [{"role": "user", "content": f"token is {CANARY}"}]}
    store.add_step(finished, "model_request", request)
    message = f"I will fix it. {INJECTIONS[0]} {INJECTIONS[1]} (key {CANARY})"
    store.add_step(
        finished, "model_response",
        {"response": {"content": [{"type": "text", "text": message}]}},
        text=message, input_tokens=100, output_tokens=20, cost_usd=0.01, latency_ms=800.0,
    )  # fmt: skip
    call = {"id": "tu_1", "name": "bash", "input": {"command": "cat README.md"}}
    store.add_step(finished, "tool_call", call, text="bash: cat README.md")
    result = f"{INJECTIONS[1]}\n{INJECTIONS[0]}\n{LONG_RESULT}"
    store.add_step(
        finished, "tool_result",
        {"tool_use_id": "tu_1", "name": "bash", "content": result, "is_error": False},
        text=result,
    )  # fmt: skip
    store.add_step(
        finished, "tool_result",
        {"tool_use_id": "tu_2", "name": "bash", "content": DIFF, "is_error": False},
        text=DIFF,
    )  # fmt: skip
    store.add_step(finished, "stop", {"status": "succeeded", "kind": "Submitted"}, text="done")
    store.add_usage(finished, Usage(100, 20, 0, 0), 0.01)
    store.finish_run(finished, "succeeded", stop_reason="model ended its turn")
    running = store.create_run("builder", subject_key="issue:13")
    store.start_run(running, "worker-2")
    store.add_step(running, "model_response", {"response": {}}, text="thinking about it")
    other = store.create_run("triage", subject_key="issue:14")
    store.start_run(other, "worker-3")
    store.finish_run(other, "failed", stop_reason="budget exceeded", error="run_usd crossed")
    return Seeded(finished=finished, running=running, other=other)


@pytest.fixture(autouse=True)
def _canary_registered() -> None:
    """The canary is a known secret for every viewer test (the redactor is process-wide)."""
    redactor.add([CANARY])


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """The seeded database's path."""
    return tmp_path / "factory.db"


@pytest.fixture
def writer(db_path: Path) -> Iterator[RunStore]:
    """A writable store on ``db_path`` (the 'daemon' side)."""
    with RunStore.open(db_path) as store:
        yield store


@pytest.fixture
def seeded(writer: RunStore) -> Seeded:
    """The seeded runs' ids."""
    return seed(writer)


@pytest.fixture
def reader(db_path: Path, seeded: Seeded) -> Iterator[RunStore]:
    """A read-only store on the seeded database (what the viewer uses)."""
    with RunStore.open(db_path, readonly=True) as store:
        yield store


class Server:
    """A uvicorn server running an app in a thread on 127.0.0.1."""

    def __init__(self, app: Starlette) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        """The server's base address."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Return a starter: ``serve(app)`` runs the app on 127.0.0.1 until the test ends."""
    servers: list[Server] = []

    def start(app: Starlette) -> Server:
        server = Server(app).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


def manual_enqueuer(db_path: Path) -> Callable[[str], str]:
    """Return an enqueue_manual that stores a manual event and queues a run (its own writer)."""

    def enqueue(name: str) -> str:
        with RunStore.open(db_path) as store:
            event_id, _ = store.add_event(
                Event(source="manual", kind="manual.run", dedup_key=f"manual-{time.time_ns()}")
            )
            return store.create_run(name, event_id=event_id)

    return enqueue


@pytest.fixture
def client_for(serve: Callable[..., Server]) -> Callable[..., httpx.Client]:
    """Return a starter: ``client_for(store, **build_app_kw)`` serves the viewer, gives a client."""

    def make(store: RunStore, **kw: Any) -> httpx.Client:
        server = serve(build_app(store, **kw))
        return httpx.Client(base_url=server.url, timeout=10)

    return make


@pytest.fixture
def client(reader: RunStore, client_for: Callable[..., httpx.Client]) -> httpx.Client:
    """An httpx client on a standalone viewer (read-only store, no enqueue) of the seed."""
    return client_for(reader)


def free_port() -> int:
    """A loopback port free right now (for a server process the test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def first_answer(proc: subprocess.Popen[str], url: str) -> httpx.Response | None:
    """GET ``url`` until the server in ``proc`` answers (about 10 s); None if it exits first."""
    for _ in range(200):
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if proc.poll() is not None:
                return None
            time.sleep(0.05)
    return None
