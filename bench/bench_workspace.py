"""Workspace ready + cleanup: overlay over a shared base vs `git clone --local` vs full checkout.

Generates a repository of ``--files`` files over ``--commits`` commits with ``git fast-import``
(the first commit adds every file, each later one edits two), serves it as a bare "remote",
fetches the factory mirror once, then times, interleaved (one of each per round, after a
warm-up round that also makes the overlay's base checkout):

- ``overlay``: ``OverlayWorkspaces.prepare`` + first ``git status`` + ``release`` (what a run
  costs now; needs root for the mounts);
- ``full checkout``: the previous ``Workspaces.prepare`` (a ``--no-hardlinks`` clone of the
  mirror and a checkout) + first ``git status`` + ``release``;
- ``git clone --local``: a plain local clone (hardlinked objects) + ``git status`` + ``rm -r``.

Prints machine facts, min/median/max in ms per variant and the ratios of medians; the last line
is ``workspace_ready_vs_clone_local: N.Nx`` (clone --local median / overlay median).

Usage: ``python bench/bench_workspace.py [--files 5000] [--commits 2000] [--runs 7]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from factory.workspace import Mirror, Workspaces
from factory.workspace.overlay import OverlayWorkspaces

GIT_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}


def git(*args: str, cwd: Path, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, input=stdin
    )
    return done.stdout.decode()


def _path(i: int) -> str:
    return f"pkg{i % 20:02d}/mod{i % 7}/sub{i % 5}/file{i:05d}.py"


def _blob(text: str) -> bytes:
    data = text.encode()
    return b"data %d\n%s\n" % (len(data), data)


def fast_import_stream(n_files: int, n_commits: int) -> bytes:
    """Return a fast-import stream: commit 1 adds ``n_files`` files, later ones edit two."""
    out: list[bytes] = []
    stamp = 1_700_000_000
    for c in range(n_commits):
        who = b"bench <bench@localhost> %d +0000" % (stamp + c)
        out += [b"commit refs/heads/main\n", b"author " + who + b"\n", b"committer " + who + b"\n"]
        out.append(_blob(f"commit {c}"))  # later commits continue the branch's tip
        changed = range(n_files) if c == 0 else ((c * 2) % n_files, (c * 2 + 1) % n_files)
        for i in changed:
            body = f"# file {i}\nVALUE = {i}\n\ndef f{i}():\n    return VALUE * {c}\n"
            out.append(b"M 100644 inline %s\n" % _path(i).encode())
            out.append(_blob(body))
        out.append(b"\n")
    return b"".join(out)


def make_repo(root: Path, n_files: int, n_commits: int) -> Path:
    """Build a bare repository of ``n_files`` files over ``n_commits`` commits; return it."""
    bare = root / "remote.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=root)
    git("fast-import", "--quiet", cwd=bare, stdin=fast_import_stream(n_files, n_commits))
    git("gc", "-q", cwd=bare)
    return bare


def timed(variants: dict[str, Callable[[int], None]], runs: int) -> dict[str, list[float]]:
    """Seconds of each variant per round, interleaved; round 0 is a warm-up, not counted."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(runs + 1):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn(i)
            if i:
                times[name].append(time.perf_counter() - start)
    return times


def machine_facts(where: Path) -> list[str]:
    fs = subprocess.run(
        ["stat", "-f", "-c", "%T", str(where)], capture_output=True, text=True, check=False
    ).stdout.strip()
    bwrap = subprocess.run(["bwrap", "--version"], capture_output=True, text=True, check=False)
    gitv = git("--version", cwd=where).strip()
    return [
        f"root: {os.geteuid() == 0}",
        f"cpus: {os.cpu_count()}  load: {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
        f"kernel: {platform.release()}  python: {platform.python_version()}",
        f"filesystem of the data dir: {fs}",
        f"bwrap: {bwrap.stdout.strip() or 'missing'}  {gitv}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("the overlay variant mounts: run this benchmark as root")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # errors only
    root = Path(tempfile.mkdtemp(prefix="bench-workspace-"))
    try:
        start = time.perf_counter()
        bare = make_repo(root, args.files, args.commits)
        made_s = time.perf_counter() - start
        data = root / "data"
        mirror = Mirror(data, "bench/repo", str(bare))
        mirror.fetch()
        overlays = OverlayWorkspaces(data, mirror)
        full = Workspaces(data, mirror)
        start = time.perf_counter()
        overlays.bases.acquire(mirror.resolve(None)[1], "warmup")
        base_s = time.perf_counter() - start
        overlays.bases.release("warmup")

        def overlay(i: int) -> None:
            ws = overlays.prepare(f"OV{i}")
            git("status", "--porcelain", cwd=ws.path)
            overlays.release(ws, failed=False)

        def checkout(i: int) -> None:
            ws = full.prepare(f"FULL{i}")
            git("status", "--porcelain", cwd=ws.path)
            full.release(ws, failed=False)

        def clone_local(i: int) -> None:
            dest = root / f"clone{i}"
            git("clone", "-q", "--local", str(bare), str(dest), cwd=root)
            git("status", "--porcelain", cwd=dest)
            shutil.rmtree(dest)

        times = timed(
            {
                "overlay (factory)": overlay,
                "full checkout (previous)": checkout,
                "git clone --local": clone_local,
            },
            args.runs,
        )
        for fact in machine_facts(data):
            print(fact)
        print(f"repository: {args.files} files, {args.commits} commits (made in {made_s:.1f} s)")
        print(f"base checkout, made once per commit: {base_s * 1000:.0f} ms")
        print(f"ready (prepare + first git status) + cleanup; {args.runs} rounds after a warm-up")
        print(f"{'variant':<28} {'min ms':>9} {'median ms':>10} {'max ms':>9}")
        medians = {}
        for name, secs in times.items():
            medians[name] = statistics.median(secs)
            print(
                f"{name:<28} {min(secs) * 1000:>9.1f} {medians[name] * 1000:>10.1f}"
                f" {max(secs) * 1000:>9.1f}"
            )
        over = medians["overlay (factory)"]
        print(
            f"workspace_ready_vs_full_checkout: {medians['full checkout (previous)'] / over:.1f}x"
        )
        print(f"workspace_ready_vs_clone_local: {medians['git clone --local'] / over:.1f}x")
    finally:
        for line in Path("/proc/self/mounts").read_text().splitlines():
            if str(root) in line:
                subprocess.run(["umount", "-l", line.split()[1]], check=False)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
