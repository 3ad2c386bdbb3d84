"""Viewer page times on a big store: 100,000 runs, 2,000,000 steps (issues 6 and 16).

Generates the store (unless --db names an existing one; generating takes minutes, so
reuse it), then calls the viewer app in-process (a bare ASGI call: server time only, no
network) 20 times per page after a warm-up. Prints one line per page and .json twin,
``page=NAME median_ms=N p95_ms=N``, slowest last, then ``slowest_page_ms: N``.
Target: every page under 150 ms median (``--check`` exits 1 otherwise).

    .venv/bin/python bench/bench_viewer.py [--db /tmp/bench-viewer.db] [--runs N --steps N]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from factory.store import RunStore
from factory.store.bulk import RARE_WORD, generate
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


PAGE_LINE = "page={name} median_ms={median:.0f} p95_ms={p95:.0f}"

V2_PAGES = (
    ("subject", "/subjects/", "/subjects/{subject}"),
    ("run_diff", "/diff/", "/runs/{older}/diff/{big}"),
    ("map", "/map", "/map"),
)
"""(name, a piece of the route's path, the page) of pages measured only when the app has
such a route (issue 16's V2 pages); the lead extends this list."""


def percentile(times: list[float], share: float) -> float:
    """Return the nearest-rank percentile of ``times`` (sorted or not)."""
    ordered = sorted(times)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


async def measure(app: Any, pages: list[tuple[str, str, str]], repeat: int) -> list[str]:
    """Time each page ``repeat`` times after a warm-up; return its lines, slowest last."""
    rows: list[tuple[float, str]] = []
    for name, path, query in pages:
        _, status, _ = await call(app, path, query)  # warm-up (template compile, page cache)
        if status != 200:
            raise SystemExit(f"{name}: {path}?{query} answered {status}")
        times = [(await call(app, path, query))[0] * 1000 for _ in range(repeat)]
        median = statistics.median(times)
        rows.append(
            (median, PAGE_LINE.format(name=name, median=median, p95=percentile(times, 0.95)))
        )
    return [line for _median, line in sorted(rows)] + [f"slowest_page_ms: {max(rows)[0]:.0f}"]


def _twins(name: str, path: str, query: str = "") -> list[tuple[str, str, str]]:
    """Return the page and its .json twin."""
    return [(name, path, query), (f"{name}.json", f"{path}.json", query)]


def pages_for(store: RunStore, app: Any) -> list[tuple[str, str, str]]:
    """Every page the bench measures on ``store``, each with its .json twin."""
    newest = store.list_runs(limit=5001)
    big, older = newest[0], newest[-1]
    day = big.queued_at.date().isoformat()
    subject = older.subject_key or "issue:1"
    pages = [
        *_twins("runs", "/runs"),
        *_twins("runs_automation", "/runs", "automation=triage"),
        *_twins("runs_status", "/runs", "status=failed"),
        *_twins("runs_subject", "/runs", "subject=" + quote(subject)),
        *_twins("runs_source_github", "/runs", "source=github"),
        *_twins("runs_source_none", "/runs", "source=none"),
        *_twins("runs_date", "/runs", f"date={day}"),
        *_twins("runs_page_100", "/runs", f"before={older.id}"),
        ("runs_rows", "/runs/rows", ""),
        *_twins("run_2000_steps", f"/runs/{big.id}"),
        ("run_steps_tail", f"/runs/{big.id}/steps", "after=1990"),
        *_twins("automations", "/automations"),
        *[
            p
            for days in (7, 30, 90)
            for p in _twins(f"factory_{days}d", "/factory", f"days={days}")
        ],
        *_twins("search_rare_word", "/search", "q=" + RARE_WORD),
        *_twins("search_common_words", "/search", "q=changelog+parser"),
        *_twins("search_subject", "/search", "in=subject&q=" + quote(subject)),
        *_twins("search_error", "/search", "in=error&q=budget"),
    ]
    known = [str(getattr(route, "path", "")) for route in app.routes]
    values = {"subject": subject, "older": older.id, "big": big.id}
    for name, piece, page in V2_PAGES:
        if any(piece in path for path in known):
            pages += _twins(name, page.format(**values))
    return pages


def main() -> None:
    """Generate (if needed) and measure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, default=Path("/tmp/bench-viewer.db"))
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 if a page is over {TARGET_MS:.0f} ms"
    )
    args = parser.parse_args()
    if args.regenerate and args.db.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    if not args.db.exists():
        started = time.perf_counter()
        with RunStore.open(args.db) as store:
            result = generate(store, runs=args.runs, steps=args.steps)
        print(
            f"# generated {result.runs:,} runs and {result.steps:,} steps in"
            f" {time.perf_counter() - started:.0f} s ({args.db.stat().st_size / 2**20:.0f} MiB)"
        )
    RunStore.open(args.db).close()  # migrate a store generated by an older factoryd
    with RunStore.open(args.db, readonly=True) as store:
        app = build_app(store)
        pages = pages_for(store, app)
        print(f"# store {args.db}: {len(pages)} pages, {args.repeat} calls each, median and p95")
        lines = asyncio.run(measure(app, pages, args.repeat))
    print("\n".join(lines))
    slowest = float(lines[-1].split()[-1])
    if args.check and slowest >= TARGET_MS:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
