"""The egress allowlist's cost: per command (the bridge), per request, and throughput.

Variants are measured side by side, interleaved round by round after a warm-up round:
- per command: ``BwrapSandbox.exec(['true'])`` with network none vs allowlist (bridge start);
- per request: N sequential GETs of a small file, each on a new connection, from the sandbox
  through bridge + proxy vs from the host straight to the loopback server (same client code,
  same /usr/bin/python3);
- throughput: one 64 MiB GET the same two ways.

Run: .venv/bin/python bench/bench_egress.py [ROUNDS]   (last line: egress_throughput_vs_direct)
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import structlog

from factory.interfaces import SandboxLimits
from factory.sandbox import BwrapSandbox
from factory.sandbox.egress import BRIDGE_PORT, EgressAccess, EgressRules
from factory.sandbox.egress_proxy import EgressProxy, map_resolver

REQUESTS = 50
BIG = 64 * 1024 * 1024
CLIENT = """
import http.client, json, sys, time
host, port, target, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
times = []
for _ in range(n):
    t = time.perf_counter()
    c = http.client.HTTPConnection(host, port)
    c.request("GET", target, headers={"Host": "bench.test"})
    r = c.getresponse()
    size = 0
    while chunk := r.read(1 << 20):
        size += len(chunk)
    c.close()
    times.append((time.perf_counter() - t) * 1000)
print(json.dumps({"ms": times, "bytes": size}))
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def stats(values: list[float]) -> str:
    """Return ``min / median / max`` of ``values``."""
    return f"{min(values):9.2f} {statistics.median(values):9.2f} {max(values):9.2f}"


def machine_facts() -> str:
    """Return root or not, kernel, bwrap version, python and CPU count."""
    bwrap = subprocess.run(["bwrap", "--version"], capture_output=True, text=True, check=False)
    return (
        f"root={os.geteuid() == 0} kernel={platform.release()} {bwrap.stdout.strip()} "
        f"python={platform.python_version()} cpus={os.cpu_count()}"
    )


def main(rounds: int = 5) -> None:
    """Print per-command, per-request and throughput figures, proxy vs direct."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    print(machine_facts())
    with tempfile.TemporaryDirectory() as tmp:
        root, ws = Path(tmp) / "root", Path(tmp) / "ws"
        root.mkdir()
        ws.mkdir()
        (root / "small").write_bytes(b"x" * 1024)
        (root / "big").write_bytes(os.urandom(1 << 20) * (BIG >> 20))
        (ws / "client.py").write_text(CLIENT)
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
        Thread(target=server.serve_forever, daemon=True).start()
        port = int(server.server_address[1])
        rules = EgressRules(["bench.test:80"])
        resolver = map_resolver({"bench.test": ("127.0.0.1", port)})
        sandbox = BwrapSandbox()
        sandbox.probe()
        limits = SandboxLimits(timeout_s=600, memory_mb=4096)
        with EgressProxy(rules, resolver=resolver, max_requests=10**9, max_bytes=1 << 50) as proxy:
            access = EgressAccess(proxy.socket_path)

            def inside(target: str, n: int) -> dict[str, Any]:
                argv = ["python3", "client.py", "127.0.0.1", str(BRIDGE_PORT), target, str(n)]
                result = sandbox.exec(
                    argv, workspace=ws, network="allowlist", limits=limits, egress=access
                )
                return dict(json.loads(result.stdout))

            def direct(target: str, n: int) -> dict[str, Any]:
                path = target.removeprefix("http://bench.test")
                argv = ["/usr/bin/python3", str(ws / "client.py"), "127.0.0.1", str(port)]
                out = subprocess.run([*argv, path, str(n)], capture_output=True, check=True)
                return dict(json.loads(out.stdout))

            def command(network: str) -> float:
                egress = access if network == "allowlist" else None
                start = time.perf_counter()
                sandbox.exec(["true"], workspace=ws, network=network, egress=egress)  # type: ignore[arg-type]
                return (time.perf_counter() - start) * 1000

            variants: dict[str, Callable[[], list[float]]] = {
                "command none (ms)": lambda: [command("none") for _ in range(5)],
                "command allowlist (ms)": lambda: [command("allowlist") for _ in range(5)],
                "request direct (ms)": lambda: direct("http://bench.test/small", REQUESTS)["ms"],
                "request proxy (ms)": lambda: inside("http://bench.test/small", REQUESTS)["ms"],
                "64MiB direct (MB/s)": lambda: [
                    BIG / 1e3 / direct("http://bench.test/big", 1)["ms"][0]
                ],
                "64MiB proxy (MB/s)": lambda: [
                    BIG / 1e3 / inside("http://bench.test/big", 1)["ms"][0]
                ],
            }
            results: dict[str, list[float]] = {name: [] for name in variants}
            for warm in [True] + [False] * rounds:
                for name, fn in variants.items():
                    values = fn()
                    if not warm:
                        results[name] += values
        server.shutdown()
        server.server_close()
    print(f"{'variant':<24} {'n':>5} {'min':>9} {'median':>9} {'max':>9}")
    for name, values in results.items():
        print(f"{name:<24} {len(values):>5} {stats(values)}")
    med = {name: statistics.median(v) for name, v in results.items()}
    bridge = med["command allowlist (ms)"] - med["command none (ms)"]
    overhead = med["request proxy (ms)"] - med["request direct (ms)"]
    ratio = med["64MiB proxy (MB/s)"] / med["64MiB direct (MB/s)"]
    print(f"egress_bridge_per_command_ms: {bridge:.1f}")
    print(f"egress_per_request_overhead_ms: {overhead:.2f}")
    print(f"egress_throughput_vs_direct: {ratio:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
