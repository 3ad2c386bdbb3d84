"""A run's egress proxy writes each connection as an ``egress`` step of the run."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import pytest

from factory.config.automation import SandboxConfig
from factory.config.egress_policy import EgressPolicy
from factory.daemon.egress_side import EGRESS_STEP, with_egress
from factory.sandbox.bwrap import BwrapSandbox
from factory.sandbox.egress_run import EgressSandbox
from factory.store import RunStore


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    """A loopback file server; yields its port."""
    root = tmp_path / "served"
    root.mkdir()
    (root / "a.txt").write_text("a\n")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_allowlist_run_records_allowed_and_denied_requests_as_steps(
    store: RunStore, tmp_path: Path, served: int
) -> None:
    """Each request through the run's proxy becomes one egress step (host, port, decision)."""
    run_id = store.create_run("egress-test")
    cfg = SandboxConfig(network="allowlist", allow=["localhost"])
    with ExitStack() as cleanup:
        sandbox = with_egress(BwrapSandbox(), cfg, EgressPolicy(), store, run_id, cleanup)
        assert isinstance(sandbox, EgressSandbox)
        sandbox.proxy.resolver = lambda host, port: ("127.0.0.1", served)
        ws = tmp_path / "ws"
        ws.mkdir()
        script = (
            "curl -s -o /dev/null http://localhost/a.txt; curl -s -o /dev/null http://evil.test/"
        )
        sandbox.exec(["sh", "-c", script], workspace=ws, network="allowlist")
    got = [
        (s.kind, s.payload["host"], s.payload["port"], s.payload["decision"])
        for s in store.steps(run_id)
    ]
    assert got == [
        (EGRESS_STEP, "localhost", 80, "allowed"),
        (EGRESS_STEP, "evil.test", 80, "denied"),
    ]


def test_network_none_gets_no_proxy(store: RunStore) -> None:
    """Without network allowlist the sandbox is returned unchanged (no proxy started)."""
    sandbox = BwrapSandbox()
    with ExitStack() as cleanup:
        same = with_egress(sandbox, SandboxConfig(), EgressPolicy(), store, "r", cleanup)
    assert same is sandbox
