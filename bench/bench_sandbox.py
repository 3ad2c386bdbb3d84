"""Per-command overhead of the bubblewrap sandbox against a plain subprocess.

Run: .venv/bin/python bench/bench_sandbox.py [RUNS]   (prints a plain table on stdout)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from factory.sandbox import BwrapSandbox, UnsandboxedSandbox


def measure(fn: Callable[[], object], runs: int) -> list[float]:
    """Return the wall time of ``runs`` calls of ``fn``, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def p95(values: list[float]) -> float:
    """Return the 95th percentile of ``values``."""
    return statistics.quantiles(values, n=20)[-1]


def main(runs: int = 50) -> None:
    """Print median and p95 of running ``true`` each way."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        bwrap, none = BwrapSandbox(), UnsandboxedSandbox()
        bwrap.probe()
        rows = {
            "subprocess.run(['true'])": measure(lambda: subprocess.run(["true"], check=True), runs),
            "UnsandboxedSandbox.exec(['true'])": measure(
                lambda: none.exec(["true"], workspace=ws), runs
            ),
            "BwrapSandbox.exec(['true'])": measure(
                lambda: bwrap.exec(["true"], workspace=ws), runs
            ),
        }
    base = statistics.median(rows["subprocess.run(['true'])"])
    print(f"{'command':<36} {'runs':>5} {'median ms':>10} {'p95 ms':>8} {'overhead ms':>12}")
    for name, values in rows.items():
        med = statistics.median(values)
        print(f"{name:<36} {runs:>5} {med:>10.2f} {p95(values):>8.2f} {med - base:>12.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
