"""Sandbox per-command overhead, then workspace preparation from the mirror vs a fresh clone.

First the per-command overhead of the bubblewrap sandbox against a plain subprocess (the
table of ``bench_sandbox.py``), then, in the same run, the workspace benchmark:

Generates a repository of small files in nested directories with a few commits, serves
it as a bare "remote" on disk, fetches the factory mirror once, then times (median of
several runs each):

- ``Workspaces.prepare``: the per-run checkout made from the mirror (what a run costs);
- ``git clone file://``: a fresh clone through git's pack protocol, as a network clone
  would do it (minus the network);
- ``git clone --local``: a plain local clone with hardlinks, for reference;
- the object transfer alone (``--no-checkout``) for the mirror copy and the file:// clone,
  since writing the ~5,000 files of the checkout is the same work for every method.

Usage: ``python bench/bench_workspace.py [--files 5000] [--runs 5] [--sandbox-runs 50]``.
Prints two tables.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import structlog
from bench_sandbox import main as sandbox_overhead  # the sibling script

from factory.workspace import Mirror, Workspaces

GIT_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True)


def make_repo(root: Path, n_files: int, n_commits: int) -> Path:
    """Build a bare repository of ``n_files`` small files over ``n_commits`` commits."""
    work = root / "gen"
    bare = root / "remote.git"
    git("init", "-q", "-b", "main", str(work), cwd=root)
    per_commit = n_files // n_commits
    for c in range(n_commits):
        for i in range(c * per_commit, (c + 1) * per_commit):
            path = work / f"pkg{i % 20:02d}" / f"mod{i % 7}" / f"sub{i % 5}" / f"file{i:05d}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"# file {i}\nVALUE = {i}\n\ndef f{i}():\n    return VALUE * {c}\n")
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", f"commit {c}", cwd=work)
    git("clone", "-q", "--bare", str(work), str(bare), cwd=root)
    git("gc", "-q", cwd=bare)
    return bare


def medians_s(
    methods: dict[str, Callable[[int], Callable[[], None]]], runs: int
) -> dict[str, float]:
    """Median seconds of each ``method(i)``, taking turns so that drift hits all alike.

    The cleanup each returns runs outside the timing.
    """
    times: dict[str, list[float]] = {name: [] for name in methods}
    for i in range(runs):
        for name, fn in methods.items():
            start = time.perf_counter()
            cleanup = fn(i)
            times[name].append(time.perf_counter() - start)
            cleanup()
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--commits", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sandbox-runs", type=int, default=50)
    args = parser.parse_args()
    # Side by side in one run: what a command costs in the sandbox, then what a workspace costs.
    print("== per-command overhead: bubblewrap sandbox vs plain subprocess")
    sandbox_overhead(args.sandbox_runs)
    print("\n== workspace preparation: from the mirror vs a fresh clone")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # errors only
    root = Path(tempfile.mkdtemp(prefix="bench-workspace-"))
    try:
        bare = make_repo(root, args.files, args.commits)
        data = root / "data"
        mirror = Mirror(data, "bench/repo", str(bare))
        start = time.perf_counter()
        mirror.fetch()
        mirror_s = time.perf_counter() - start
        wss = Workspaces(data, mirror)

        def prepare(i: int) -> Callable[[], None]:
            ws = wss.prepare(f"RUN{i}")  # fetch() is per run too, but the remote is local
            return lambda: wss.release(ws, failed=False)

        def fetch(_i: int) -> Callable[[], None]:
            mirror.fetch()
            return lambda: None

        def clone(*flags: str, url: str) -> Callable[[int], Callable[[], None]]:
            def run(i: int) -> Callable[[], None]:
                dest = Path(tempfile.mkdtemp(dir=root)) / "clone"
                git("clone", "-q", *flags, url, str(dest), cwd=root)
                return lambda: shutil.rmtree(dest)

            return run

        file_url = f"file://{bare}"
        rows = medians_s(
            {
                "prepare from mirror (factory)": prepare,
                "  + mirror fetch, nothing new (per run)": fetch,
                "fresh git clone file:// (pack protocol)": clone(url=file_url),
                "git clone --local (hardlinks, reference)": clone(url=str(bare)),
                "  objects only: mirror copy (--no-hardlinks)": clone(
                    "--no-hardlinks", "--no-checkout", url=str(mirror.path)
                ),
                "  objects only: file:// clone (--no-checkout)": clone(
                    "--no-checkout", url=file_url
                ),
            },
            args.runs,
        )
        print(f"repository: {args.files} files, {args.commits} commits; median of {args.runs} runs")
        print(f"initial mirror clone + fetch: {mirror_s * 1000:.0f} ms (once, not per run)")
        print(f"{'method':<44} {'median ms':>10}")
        for name, secs in rows.items():
            print(f"{name:<44} {secs * 1000:>10.0f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
