"""Per-command cost of the bubblewrap sandbox, side by side with a minimal bwrap call.

Run: .venv/bin/python bench/bench_sandbox.py [ROUNDS] [--flags] [--against DIR]

Each round runs ``true`` once per variant, in an order that rotates every round (so a busy
moment of the machine falls on every variant alike); warm-up rounds are dropped. Variants:
a plain ``subprocess.run``; a minimal ``bwrap`` (fresh namespaces, /usr read-only, /proc,
/dev: what any sandbox needs to run a program); ``BwrapSandbox.exec`` inside an open run (how
the daemon runs an agent's commands); and, as root, a lone ``exec`` with no open run (a
cgroup made and removed for the one command). Prints machine facts, min/median/max per
variant, and last ``sandbox_vs_minimal_bwrap: N.Nx`` (median over median). The daemon's
commands in a run come seconds apart (a model turn between them), so each round sleeps
``GAP_S`` before it: the run's spare (``spares.py``) is ready as it would be in a run.
``--flags`` adds the sandbox's own bwrap command line run directly, and that line without
each piece in turn: what each flag or mount costs. ``--against DIR`` (DIR holds the
``factory`` package of other code, e.g. ``git archive BASE factory | tar -x -C DIR``) adds
``exec`` in a run by that code and by this tree, each in a worker process of its own (timed
there), interleaved with the rest: a change measured side by side with the previous code.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from factory.interfaces import SandboxLimits
from factory.sandbox import BwrapSandbox
from factory.sandbox.bwrap import HOME, SYSTEM_DIRS
from factory.sandbox.environment import build_env

WARMUP = 5
"""Rounds run first and not counted (page cache, first cgroup, first /etc copy)."""
GAP_S = 0.05
"""Pause before each round (a run's commands are seconds apart; 50 ms is far less)."""
PIECES = {
    "--disable-userns": 1,
    "--cap-drop": 2,
    "--new-session": 1,
    "--hostname": 2,
    "--clearenv": 1,
    "--tmpfs": 2,
    "--remount-ro": 2,
}
"""Pieces of the command line measured by leaving each out (flag: its length in args)."""


def without(argv: list[str], flag: str) -> list[str]:
    """Return ``argv`` without the first ``flag`` and its arguments (PIECES)."""
    i = argv.index(flag)
    return argv[:i] + argv[i + PIECES[flag] :]


def flag_variants(sandbox: BwrapSandbox, binary: str, ws: Path) -> dict[str, list[str]]:
    """The sandbox's own command line for ``true`` (no cgroup), and it less each piece."""
    full = sandbox.build_argv(
        ["true"],
        binary=binary,
        workspace=ws,
        network="none",
        limits=SandboxLimits(),
        env=build_env(HOME, None),
    )
    variants = {"sandbox argv, direct": full}
    variants["  without prlimit"] = [*full[: full.index("/usr/bin/prlimit")], "true"]
    absent = {d for d in SYSTEM_DIRS if not os.path.lexists(d)}
    kept: list[str] = []
    i = 0
    while i < len(full):
        if full[i] == "--ro-bind-try" and full[i + 1] in absent:
            i += 3
            continue
        kept.append(full[i])
        i += 1
    variants["  without absent ro-bind-try"] = kept
    for flag in PIECES:
        variants[f"  without {flag}"] = without(full, flag)
    return variants


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


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (user + system)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_rounds(
    variants: dict[str, Callable[[], object]], rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Return each variant's wall and CPU times in ms over ``rounds`` rotated rounds.

    The CPU time includes work other threads of this process do meanwhile (a spare made in
    the background after the command is charged to the next variant run). A variant that
    returns a float timed itself (seconds; a worker process): that is its time, CPU unknown.
    """
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for i in range(WARMUP + rounds):
        shift = i % len(names)
        time.sleep(GAP_S)
        for name in names[shift:] + names[:shift]:
            start, start_cpu = time.perf_counter(), _cpu()
            own = variants[name]()
            elapsed = (time.perf_counter() - start) * 1000
            if i >= WARMUP:
                timed_itself = isinstance(own, float)
                times[name].append(own * 1000 if isinstance(own, float) else elapsed)
                cpu[name].append(math.nan if timed_itself else (_cpu() - start_cpu) * 1000)
    return times, cpu


WORKER = """
import sys, tempfile, time
from pathlib import Path
import structlog
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
from factory.sandbox import BwrapSandbox
ws = Path(tempfile.mkdtemp(prefix="bench-sandbox-worker-"))
sandbox = BwrapSandbox()
sandbox.probe()
sandbox.open_run(ws)
print("ready", flush=True)
for _ in sys.stdin:
    start = time.perf_counter()
    result = sandbox.exec(["true"], workspace=ws)
    print((time.perf_counter() - start) if result.exit_code == 0 else -1.0, flush=True)
sandbox.close_run(ws)
ws.rmdir()
"""
"""A process running ``exec(["true"])`` in an open run on each line it reads; prints seconds."""


def start_worker(tree: Path) -> subprocess.Popen[str]:
    """Start WORKER with the ``factory`` package of ``tree`` first on its path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tree,
    )
    assert worker.stdout is not None
    if worker.stdout.readline().strip() != "ready":
        raise SystemExit(f"the worker for {tree} did not start")
    return worker


def ask(worker: subprocess.Popen[str]) -> float:
    """Have ``worker`` run one command; return its time in seconds (timed in the worker)."""
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write("go\n")
    worker.stdin.flush()
    seconds = float(worker.stdout.readline())
    if seconds < 0:
        raise SystemExit("a worker's command failed")
    return seconds


def main(rounds: int = 60, flags: bool = False, against: Path | None = None) -> None:
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
        if flags:
            for name, argv in flag_variants(sandbox, binary, ws).items():
                variants[name] = lambda argv=argv: subprocess.run(argv, check=True)  # type: ignore[misc]
        workers = {}
        if against is not None:
            here = Path(__file__).resolve().parent.parent
            workers = {f"worker: {tree}": start_worker(tree) for tree in (here, against)}
            for name, worker in workers.items():
                variants[name] = lambda worker=worker: ask(worker)  # type: ignore[misc]
        try:
            times, cpu = run_rounds(variants, rounds)
        finally:
            sandbox.close_run(ws)
            for worker in workers.values():
                assert worker.stdin is not None
                worker.stdin.close()
                worker.wait()
        facts = machine_facts(binary, ws)
    for line in facts:
        print(line)
    print(
        f"rounds: {rounds} (+{WARMUP} warm-up), interleaved, order rotated each round, "
        f"{GAP_S * 1000:.0f} ms pause before each round"
    )
    width = max(32, *(len(name) for name in times))
    print(f"{'variant':<{width}} {'min ms':>8} {'median ms':>10} {'max ms':>8} {'cpu med ms':>11}")
    minimal_median = statistics.median(times["minimal bwrap true"])
    for name, values in times.items():
        print(
            f"{name:<{width}} {min(values):>8.2f} {statistics.median(values):>10.2f} "
            f"{max(values):>8.2f} {statistics.median(cpu[name]):>11.2f}"
            + (f"  ({statistics.median(values) / minimal_median:.2f}x)" if name in workers else "")
        )
    ratio = statistics.median(times["BwrapSandbox.exec (in a run)"]) / minimal_median
    print(f"sandbox_vs_minimal_bwrap: {ratio:.1f}x")


if __name__ == "__main__":
    argv = sys.argv[1:]
    tree = None
    if "--against" in argv:
        at = argv.index("--against")
        tree = Path(argv[at + 1]).resolve()
        del argv[at : at + 2]
    args = [a for a in argv if a != "--flags"]
    main(int(args[0]) if args else 60, flags="--flags" in argv, against=tree)
