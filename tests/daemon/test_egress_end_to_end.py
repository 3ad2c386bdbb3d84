"""The daemon runs an allowlist automation: its command reaches an allowed host, not others."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from factory.daemon.egress_side import EGRESS_STEP, HOSTS_ENV
from factory.store import RunRecord
from factory.testing.fake_anthropic import FakeReply
from factory.testing.sample import MAINTAINER, READY, REPO
from tests.daemon.conftest import Factory, run_daemon, wait_for

COMMAND = (
    "curl -s http://allowed.test/a.txt; "
    "curl -s -o /dev/null -w 'denied=%{http_code}\\n' http://evil.test/secret"
)
"""One request to the allowed host (prints the file) and one to a host not on the list."""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    """A loopback file server standing in for allowed.test; yields its port."""
    root = tmp_path / "served"
    root.mkdir()
    (root / "a.txt").write_text("from allowed.test\n")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _curl_then_done(body: dict[str, Any]) -> FakeReply:
    """Turn 1: the two requests through the sandbox's proxy; then the model stops."""
    if any(m["role"] == "assistant" for m in body["messages"]):
        return FakeReply([{"type": "text", "text": "Done."}])
    command = {"command": COMMAND}
    return FakeReply([{"type": "tool_use", "id": "toolu_1", "name": "bash", "input": command}])


@pytest.fixture
def ran(factory: Factory, served: int, monkeypatch: pytest.MonkeyPatch) -> RunRecord:
    """The builder, made ``network: allowlist`` for allowed.test, ran the two requests."""
    for other in factory.settings.automations_dir.glob("*.yaml"):
        if other.name != "builder.yaml":
            other.unlink()
    builder = factory.settings.automations_dir / "builder.yaml"
    allowlist = "  network: allowlist\n  allow: [allowed.test]\n"
    builder.write_text(builder.read_text().replace("  network: none\n", allowlist))
    monkeypatch.setenv(HOSTS_ENV, f"allowed.test=127.0.0.1:{served}")
    factory.anthropic.responder = _curl_then_done
    running = run_daemon(factory)
    try:
        factory.github.add_labels(REPO, factory.world.bug, READY, as_user=MAINTAINER)
        run: RunRecord = wait_for(
            lambda: next((r for r in factory.runs("builder") if r.finished), None),
            timeout_s=30,
            what="the builder's run finished",
        )
    finally:
        running.stop()
    return run


def test_allowed_and_denied_requests_are_egress_steps_of_the_run(
    factory: Factory, ran: RunRecord
) -> None:
    """The run's steps hold one egress step per request: allowed.test allowed, evil.test denied."""
    with factory.store() as store:
        steps = [
            (s.payload["host"], s.payload["port"], s.payload["decision"])
            for s in store.steps(ran.id)
            if s.kind == EGRESS_STEP
        ]
    assert steps == [("allowed.test", 80, "allowed"), ("evil.test", 80, "denied")]


def test_command_sees_the_allowed_file_and_the_403(factory: Factory, ran: RunRecord) -> None:
    """The agent's tool result has the allowed host's file and the denied request's 403."""
    with factory.store() as store:
        results = [s.text.strip() for s in store.steps(ran.id) if s.kind == "tool_result"]
    assert results[:1] == ["from allowed.test\ndenied=403\n[exit code: 0]"]
