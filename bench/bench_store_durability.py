"""What storing an event with synchronous=FULL costs against NORMAL, measured side by side.

An event is acknowledged (a webhook's 2xx) only after its row is committed; FULL fsyncs the WAL
at that commit so the row survives power loss, NORMAL only survives a crash of the process.
Both variants store events into the same real SQLite store (WAL) in a temporary directory on
the disk under ``--dir`` (default: the system temp dir), interleaved in rounds so that disk
and cache noise fall on both alike, after a warm-up. Prints min/median/max per event for each
and, last, ``event_full_vs_normal: N.Nx`` (median FULL / median NORMAL).

Usage: ``python bench/bench_store_durability.py [--rounds 30] [--per-round 20] [--dir PATH]``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path

import structlog

from factory.events import Event, Subject
from factory.store import RunStore

_keys = itertools.count()


def _event() -> Event:
    n = next(_keys)
    return Event(
        source="github",
        kind="issues.labeled",
        dedup_key=f"bench-{n}",
        subject=Subject(kind="issue", number=n % 50 + 1),
        actor="mara",
        trust="maintainers",
        payload={"label": {"name": "factory:ready"}, "n": n, "text": "x" * 500},
    )


def _time(store: RunStore, durable: bool, count: int) -> float:
    """Seconds per event for storing ``count`` new events."""
    start = time.perf_counter()
    for _ in range(count):
        store._store_event(_event(), durable=durable)  # the bench alone picks NORMAL
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    samples: dict[bool, list[float]] = {True: [], False: []}
    with (
        tempfile.TemporaryDirectory(prefix="factoryd-bench-", dir=args.dir) as tmp,
        RunStore.open(Path(tmp) / "factory.db") as store,
    ):
        for durable in (True, False):  # warm-up: pages, WAL file, pool
            _time(store, durable, args.per_round)
        for i in range(args.rounds):
            order = (True, False) if i % 2 == 0 else (False, True)
            for durable in order:
                samples[durable].append(_time(store, durable, args.per_round))
    print(f"events stored: {args.rounds} rounds x {args.per_round} per variant, interleaved")
    print(f"{'variant':<8} {'min ms':>8} {'median ms':>10} {'max ms':>8}")
    for durable, name in ((False, "NORMAL"), (True, "FULL")):
        xs = samples[durable]
        print(
            f"{name:<8} {min(xs) * 1e3:>8.3f} {statistics.median(xs) * 1e3:>10.3f} "
            f"{max(xs) * 1e3:>8.3f}"
        )
    ratio = statistics.median(samples[True]) / statistics.median(samples[False])
    print(f"event_full_vs_normal: {ratio:.1f}x")


if __name__ == "__main__":
    main()
