"""Per-command cost of the bubblewrap sandbox, side by side with a minimal bwrap call.

Run: .venv/bin/python bench/bench_sandbox.py [ROUNDS]

Each round runs ``true`` once per variant, in an order that rotates every round (so a busy
moment of the machine falls on every variant alike); warm-up rounds are dropped. Variants:
a plain ``subprocess.run``; a minimal ``bwrap`` (fresh namespaces, /usr read-only, /proc,
/dev: what any sandbox needs to run a program); ``BwrapSandbox.exec`` inside an open run (how
the daemon runs an agent's commands); and, as root, a lone ``exec`` with no open run (a
cgroup made and removed for the one command). Prints machine facts, min/median/max per
variant, and last ``sandbox_vs_minimal_bwrap: N.Nx`` (median over median).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from factory.sandbox import BwrapSandbox
from factory.sandbox.bwrap import SYSTEM_DIRS

WARMUP = 5
"""Rounds run first and not counted (page cache, first cgroup, first /etc copy)."""


def minimal_bwrap_argv(binary: str) -> list[str]:
    """The smallest useful sandbox: new namespaces, /usr (+ merged-/usr links), /proc, /dev."""
    args = [binary, "--unshare-all", "--die-with-parent"]
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif d == "/usr":
            args += ["--ro-bind", d, d]
    return [*args, "--proc", "/proc", "--dev", "/dev", "--", "true"]


def filesystem_of(path: Path) -> str:
    """Return the filesystem type ``path`` is on, from /proc/self/mountinfo."""
    best, fstype = "", "?"
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        pre, _, post = line.partition(" - ")
        mount = pre.split()[4]
        if str(path).startswith(mount) and len(mount) > len(best):
            best, fstype = mount, post.split()[0]
    return fstype


def machine_facts(binary: str, workspace: Path) -> list[str]:
    """Lines saying where the figures were measured."""
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    load = os.getloadavg()
    return [
        f"user: {'root' if os.geteuid() == 0 else 'non-root'} (uid {os.geteuid()})",
        f"kernel: {platform.release()}  cpus: {os.cpu_count()}  load: {load[0]:.1f}",
        f"bwrap: {version.strip()}  ({binary})",
        f"workspace filesystem: {filesystem_of(workspace)}",
        f"python: {platform.python_version()}",
    ]


def run_rounds(variants: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Return each variant's wall times in ms over ``rounds`` rotated, interleaved rounds."""
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(WARMUP + rounds):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            variants[name]()
            elapsed = (time.perf_counter() - start) * 1000
            if i >= WARMUP:
                times[name].append(elapsed)
    return times


def main(rounds: int = 60) -> None:
    """Print the machine facts, the table and the ratio line."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        ws = Path(tmp)
        sandbox = BwrapSandbox()
        sandbox.probe()
        binary = sandbox._binary()
        minimal = minimal_bwrap_argv(binary)
        sandbox.open_run(ws)
        lone_ws = ws / "lone"
        lone_ws.mkdir()
        variants: dict[str, Callable[[], object]] = {
            "subprocess.run(['true'])": lambda: subprocess.run(["true"], check=True),
            "minimal bwrap true": lambda: subprocess.run(minimal, check=True),
            "BwrapSandbox.exec (in a run)": lambda: sandbox.exec(["true"], workspace=ws),
        }
        if os.geteuid() == 0:
            variants["BwrapSandbox.exec (lone)"] = lambda: sandbox.exec(["true"], workspace=lone_ws)
        try:
            times = run_rounds(variants, rounds)
        finally:
            sandbox.close_run(ws)
        facts = machine_facts(binary, ws)
    for line in facts:
        print(line)
    print(f"rounds: {rounds} (+{WARMUP} warm-up), interleaved, order rotated each round")
    print(f"{'variant':<32} {'min ms':>8} {'median ms':>10} {'max ms':>8}")
    for name, values in times.items():
        print(
            f"{name:<32} {min(values):>8.2f} {statistics.median(values):>10.2f} {max(values):>8.2f}"
        )
    ratio = statistics.median(times["BwrapSandbox.exec (in a run)"]) / statistics.median(
        times["minimal bwrap true"]
    )
    print(f"sandbox_vs_minimal_bwrap: {ratio:.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)
