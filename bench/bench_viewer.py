"""Viewer page times on a big store: 100,000 runs, 2,000,000 steps (issue 6's benchmark).

Generates the store (unless --db names an existing one), then calls the viewer app
in-process (a bare ASGI call: server time only, no network) about 20 times per page and
prints the median and 90th percentile. Target: runs page and the 2,000-step run page
under 150 ms median.

    .venv/bin/python bench/bench_viewer.py [--db /tmp/bench-viewer.db] [--runs N --steps N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from factory.store import RunStore
from factory.store.bulk import generate
from factory.web import build_app

TARGET_MS = 150.0


async def call(app: Any, path: str, query: str = "") -> tuple[float, int, int]:
    """Call the ASGI app once; return (seconds, status, body bytes)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    status, size = 0, 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, size
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            size += len(message.get("body", b""))

    started = time.perf_counter()
    await app(scope, receive, send)
    return time.perf_counter() - started, status, size


async def measure(app: Any, pages: list[tuple[str, str, str]], repeat: int) -> None:
    """Print a table of page times."""
    print(f"{'page':<34} {'median ms':>10} {'p90 ms':>8} {'KiB':>8} {'status':>6}  target")
    for label, path, query in pages:
        await call(app, path, query)  # warm-up (template compile, page cache)
        results = [await call(app, path, query) for _ in range(repeat)]
        times = sorted(r[0] * 1000 for r in results)
        median = statistics.median(times)
        p90 = times[int(len(times) * 0.9) - 1]
        target = ""
        if label.startswith(("runs page ", "run page")):
            target = "ok" if median < TARGET_MS else f"OVER {TARGET_MS:.0f} ms"
        print(
            f"{label:<34} {median:>10.1f} {p90:>8.1f} {results[-1][2] / 1024:>8.0f}"
            f" {results[-1][1]:>6}  {target}"
        )


def main() -> None:
    """Generate (if needed) and measure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, default=Path("/tmp/bench-viewer.db"))
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    if args.regenerate and args.db.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    if not args.db.exists():
        started = time.perf_counter()
        with RunStore.open(args.db) as store:
            result = generate(store, runs=args.runs, steps=args.steps)
        print(
            f"generated {result.runs:,} runs and {result.steps:,} steps in"
            f" {time.perf_counter() - started:.0f} s ({args.db.stat().st_size / 2**20:.0f} MiB)"
        )
    with RunStore.open(args.db, readonly=True) as store:
        big = store.list_runs(limit=1)[0]
        steps = store.steps(big.id, after_seq=0, limit=None)
        print(f"store {args.db}: newest run {big.id} has {len(steps):,} steps")
        app = build_app(store)
        pages = [
            ("runs page (first page)", "/runs", ""),
            ("runs page filtered (automation)", "/runs", "automation=triage"),
            ("runs page filtered (status)", "/runs", "status=failed"),
            ("runs page, page 100 (before=)", "/runs", "before=" + _older(store, 5000)),
            ("runs.json", "/runs.json", ""),
            (f"run page ({len(steps):,} steps)", f"/runs/{big.id}", ""),
            (f"run .json ({len(steps):,} steps)", f"/runs/{big.id}.json", ""),
            ("automations", "/automations", ""),
            ("factory (30 days)", "/factory", ""),
            ("search (text)", "/search", "q=changelog+parser"),
        ]
        asyncio.run(measure(app, pages, args.repeat))


def _older(store: RunStore, n: int) -> str:
    return store.list_runs(limit=n)[-1].id


if __name__ == "__main__":
    main()
