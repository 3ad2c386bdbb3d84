"""Daemon overhead (event stored → first model request) and memory with 20 sessions in flight.

Offline on 127.0.0.1: FakeGitHub with the sample world, FakeAnthropic, the shipped harness,
benchmark automations (``manual`` trigger, prompt "reply done") in a temporary directory.

1. **Latency.** An in-process daemon (loop in a thread, background threads and HTTP port on,
   as ``factoryd start`` has them). Per run: ``time.time()`` right before a manual event is
   stored (``store.add_event``) and the loop woken (as ``enqueue_manual`` does); the fake
   model notes ``time.time()`` when that run's first request arrives (found by the
   ``bench-run ID`` tag in the task text of the first user message) and answers at once
   (text, end_turn). Runs are sequential, so none queues behind another. Rows:
   ``workspace: none`` without / with an issue subject (claim + snapshot on GitHub);
   ``default-branch`` without / with an issue (adds mirror fetch, checkout and one bwrap
   exec reading ``repo:AGENTS.md`` for the prompt, as the builder does); and ``none``
   stored *without* waking the loop, as an event written by another process is (e.g.
   ``factoryd run`` into a running daemon: found on the loop's next tick, up to 1 s).
   Webhooks, the poller, schedules and ``enqueue_manual`` wake the loop.

2. **Memory.** ``python -m factory start`` in a subprocess (global and automation
   concurrency 20) fed 20 manual events through its store. The fake model holds every
   request until all 20 are in flight (store: 20 running; fake: 20 waiting). Reports the
   daemon's VmRSS / VmHWM / threads from ``/proc/PID/status`` before any run, with 20 in
   flight and after they finished, for ``workspace: none`` and ``default-branch``.

Usage: ``python bench/bench_daemon.py [--runs 200] [--stored-runs 30] [--sessions 20]``.
Prints tables; no assertions on timings. ``BENCH_LOG=20`` shows the in-process daemon's logs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from factory.daemon.process import Daemon
from factory.events import Event, Subject
from factory.store import RunRecord, RunStore
from factory.testing.fake_anthropic import FakeAnthropic, FakeReply
from factory.testing.fake_github import FakeGitHub
from factory.testing.processes import DaemonProcess, Proc, proc_status, wait_until
from factory.testing.sample import World, fake_settings, seed_world

ROOT = Path(__file__).resolve().parents[1]
TAG = re.compile(r"bench-run ([\w-]+)")
WARMUP = 3
"""Runs per row done first and not counted (imports, first connections, mirror clone)."""

AUTOMATION = """\
name: {name}
description: Benchmark automation ({workspace}, subject {subject}).
on:
  - manual: {{}}
subject: {subject}
trust: maintainers
model: claude-haiku-4-5
limits: {{max_turns: 3, run_usd: 1.0, daily_usd: 100000, timeout: 5m}}
concurrency: {concurrency}
workspace: {workspace}
tools: [{tools}]
context: [{context}]
prompt: |
  Benchmark run: reply with the single word "done".
"""


@dataclass(frozen=True)
class Shape:
    """One benchmark automation: its name, workspace mode and subject kind."""

    name: str
    workspace: str
    subject: str
    label: str

    def yaml(self, concurrency: int) -> str:
        """Return the automation's YAML text."""
        workspaced = self.workspace != "none"
        return AUTOMATION.format(
            name=self.name,
            workspace=self.workspace,
            subject=self.subject,
            concurrency=concurrency,
            tools="bash, editor" if workspaced else "github_read",
            context="harness/factory-floor.md" + (", repo:AGENTS.md" if workspaced else ""),
        )


SHAPES = [
    Shape("bench-none", "none", "none", "workspace none, no subject"),
    Shape("bench-none-issue", "none", "issue", "workspace none, issue (claim+snapshot)"),
    Shape("bench-branch", "default-branch", "none", "default-branch, no subject"),
    Shape("bench-branch-issue", "default-branch", "issue", "default-branch, issue"),
]


@dataclass
class Arrivals:
    """A FakeAnthropic responder: answers ``done`` and records first-request arrival times.

    With ``hold`` set, every request waits (up to ``hold_s``) until ``release`` is set.
    """

    hold: bool = False
    hold_s: float = 120.0
    first: dict[str, float] = field(default_factory=dict)
    seen: dict[str, threading.Event] = field(default_factory=dict)
    waiting: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def expect(self, tag: str) -> threading.Event:
        """Return the event set when the first request tagged ``tag`` arrives."""
        with self.lock:
            return self.seen.setdefault(tag, threading.Event())

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        """Record the arrival, optionally hold, then answer with a final text."""
        now = time.time()
        tag = _tag(body)
        if tag is not None and not any(m["role"] == "assistant" for m in body["messages"]):
            with self.lock:
                self.first.setdefault(tag, now)
                event = self.seen.setdefault(tag, threading.Event())
            event.set()
        if self.hold:
            with self.lock:
                self.waiting += 1
            self.release.wait(self.hold_s)
            with self.lock:
                self.waiting -= 1
        return FakeReply([{"type": "text", "text": "done"}], "end_turn")


def _tag(body: dict[str, Any]) -> str | None:
    first = body["messages"][0]["content"]
    text = first if isinstance(first, str) else json.dumps(first)
    match = TAG.search(text)
    return match.group(1) if match else None


@contextmanager
def world(tmp: Path, concurrency: int) -> Iterator[tuple[FakeGitHub, FakeAnthropic, World, Path]]:
    """Fakes seeded with the sample world and an automations dir holding every shape."""
    automations = tmp / "automations"
    automations.mkdir()
    for shape in SHAPES:
        (automations / f"{shape.name}.yaml").write_text(shape.yaml(concurrency))
    with FakeGitHub(tmp / "github") as github, FakeAnthropic() as anthropic:
        yield github, anthropic, seed_world(github, label=False), automations


# -- 1. latency --------------------------------------------------------------------------------


@dataclass
class Row:
    """One latency row: seconds from event stored to run started and to first model request."""

    label: str
    to_started: list[float] = field(default_factory=list)
    to_request: list[float] = field(default_factory=list)
    failed: int = 0


def measure(
    daemon: Daemon, arrivals: Arrivals, shape: Shape, sample: World, wake: bool, count: int
) -> Row:
    """Run ``shape`` WARMUP + ``count`` times in sequence; return the measured row.

    Each run's manual event is stored with ``store.add_event`` from this thread; with
    ``wake`` the loop is woken at once (as ``enqueue_manual`` does), without it the loop
    finds the event on its next tick (as webhook and poller events are found today), so
    those events are stored at a random moment of the 1 s tick, as real ones arrive.
    Raises TimeoutError when a run makes no model request or does not end within 60 s.
    """
    subject = None
    if shape.subject == "issue":
        subject = Subject(kind="issue", number=sample.bug, title="bench")
    row = Row(shape.label if wake else "workspace none, other process (1 s tick)")
    for i in range(WARMUP + count):
        tag = f"{shape.name}-{'w' if wake else 'n'}{i}"
        event = manual_event(shape.name, tag, subject)
        seen = arrivals.expect(tag)
        if not wake:
            time.sleep(random.uniform(0.0, 1.0))
        t0 = time.time()
        daemon.store.add_event(event)
        if wake:
            daemon.wake.set()
        if not seen.wait(60):
            raise TimeoutError(f"no model request for {tag}")
        run = wait_until(lambda: _newest_finished(daemon.store, shape.name), 60, f"{tag} to end")
        row.failed += run.status != "succeeded"
        if i >= WARMUP and run.started_at is not None:
            row.to_started.append(run.started_at.timestamp() - t0)
            row.to_request.append(arrivals.first[tag] - t0)
    return row


def manual_event(automation: str, tag: str, subject: Subject | None = None) -> Event:
    """Return a maintainer's manual event for ``automation`` whose task carries ``tag``."""
    return Event(
        source="manual",
        kind="manual",
        dedup_key=f"bench:{tag}",
        subject=subject,
        actor="bench",
        trust="maintainers",
        payload={"automation": automation, "task": f"bench-run {tag}"},
    )


def _newest_finished(store: RunStore, automation: str) -> RunRecord | None:
    runs = store.list_runs(automation=automation, limit=1)
    return runs[0] if runs and runs[0].finished else None


def latency(runs: int, stored_runs: int) -> list[Row]:
    """Return one measured row per automation shape, plus the no-wake row."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-daemon-") as name:
        tmp = Path(name)
        with world(tmp, concurrency=1) as (github, anthropic, sample, automations):
            arrivals = Arrivals()
            anthropic.responder = arrivals
            settings = fake_settings(
                github,
                anthropic,
                data_dir=tmp / "data",
                webhook_secret="bench-webhook-secret",  # noqa: S106 (a fake's)
                automations_dir=automations,
                harness_dir=ROOT / "harness",
            )
            daemon = Daemon(settings)
            daemon.start()
            loop = threading.Thread(target=daemon.run_loop, name="daemon-loop", daemon=True)
            loop.start()
            try:
                for shape, wake, count in [(s, True, runs) for s in SHAPES] + [
                    (SHAPES[0], False, stored_runs)
                ]:
                    rows.append(measure(daemon, arrivals, shape, sample, wake, count))
                    print(f"  measured: {rows[-1].label}", file=sys.stderr, flush=True)
            finally:
                daemon.stopping.set()
                daemon.wake.set()
                loop.join(timeout=30)
    return rows


def _ms(values: list[float]) -> tuple[float, float, float, float]:
    """Median, p95, min and max of ``values`` (seconds), in milliseconds."""
    ms = sorted(v * 1000 for v in values)
    p95 = statistics.quantiles(ms, n=20, method="inclusive")[18] if len(ms) >= 2 else ms[0]
    return statistics.median(ms), p95, ms[0], ms[-1]


def print_latency(rows: list[Row]) -> None:
    """Print the latency table (milliseconds)."""
    print("\nEvent stored -> first model request (in-process daemon, zero-latency fake model)")
    print("('started' = the run row's started_at: dispatch + start, before claim/workspace)")
    head = (
        f"{'automation shape':<40} {'runs':>4} {'started':>9} {'median':>9} {'p95':>9} "
        f"{'min':>9} {'max':>9} {'failed':>6}"
    )
    print(head)
    print("-" * len(head))
    for row in rows:
        if not row.to_request:
            print(f"{row.label:<40} {0:>4}  (no measured runs)")
            continue
        started = statistics.median(row.to_started) * 1000
        median, p95, low, high = _ms(row.to_request)
        print(
            f"{row.label:<40} {len(row.to_request):>4} {started:>6.1f} ms {median:>6.1f} ms "
            f"{p95:>6.1f} ms {low:>6.1f} ms {high:>6.1f} ms {row.failed:>6}"
        )


# -- 2. memory ---------------------------------------------------------------------------------


def memory(sessions: int, shape: Shape) -> dict[str, Proc]:
    """Run ``sessions`` concurrent runs of ``shape`` in a daemon subprocess; return its status."""
    out: dict[str, Proc] = {}
    with tempfile.TemporaryDirectory(prefix="bench-daemon-mem-") as name:
        tmp = Path(name)
        with world(tmp, concurrency=sessions) as (github, anthropic, _sample, automations):
            arrivals = Arrivals(hold=True)
            anthropic.responder = arrivals
            settings = fake_settings(
                github,
                anthropic,
                data_dir=tmp / "data",
                webhook_secret="bench-webhook-secret",  # noqa: S106 (a fake's)
                automations_dir=automations,
                harness_dir=ROOT / "harness",
            ).model_copy(update={"concurrency": sessions})
            env = settings.to_env()
            env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), FACTORY_LOG_FORMAT="json")
            daemon = DaemonProcess(env, cwd=ROOT)
            try:
                daemon.wait_started()
                time.sleep(1.0)  # let the HTTP port, scheduler and reloader settle
                pid = daemon.proc.pid
                out["idle, before any run"] = proc_status(pid)
                db = tmp / "data" / "factory.db"
                with RunStore.open(db) as store:  # the daemon dispatches them on its tick
                    for i in range(sessions):
                        store.add_event(manual_event(shape.name, f"mem-{shape.name}-{i}"))

                def in_flight() -> bool:
                    with RunStore.open(db, readonly=True) as store:
                        running = len(store.list_runs(automation=shape.name, status="running"))
                    return running == sessions and arrivals.waiting == sessions

                wait_until(in_flight, 120, f"{sessions} runs in flight")
                time.sleep(0.5)
                out[f"{sessions} sessions waiting on the model"] = proc_status(pid)
                arrivals.release.set()

                def all_done() -> bool:
                    with RunStore.open(db, readonly=True) as store:
                        runs = store.list_runs(automation=shape.name, limit=1000)
                    return len(runs) == sessions and all(r.finished for r in runs)

                wait_until(all_done, 120, "every run to finish")
                time.sleep(1.0)
                out["after they finished"] = proc_status(pid)
            finally:
                arrivals.release.set()
                daemon.stop()
    return out


def print_memory(results: list[tuple[Shape, dict[str, Proc]]]) -> None:
    """Print the memory table (MiB) and thread counts."""
    print("\nDaemon process (python -m factory start): /proc/PID/status")
    head = f"{'automation shape':<28} {'moment':<34} {'VmRSS':>10} {'VmHWM':>10} {'threads':>8}"
    print(head)
    print("-" * len(head))
    for shape, points in results:
        for moment, p in points.items():
            print(
                f"{shape.label[:28]:<28} {moment:<34} {p.rss_kb / 1024:>6.1f} MiB "
                f"{p.hwm_kb / 1024:>6.1f} MiB {p.threads:>8}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="measured runs per latency row")
    parser.add_argument(
        "--stored-runs", type=int, default=30, help="runs of the no-wake row (~0.5 s each)"
    )
    parser.add_argument("--sessions", type=int, default=20, help="concurrent sessions (memory)")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C: temp dirs removed, the daemon subprocess stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(int(os.environ.get("BENCH_LOG", "40")))
    )
    print(f"factoryd daemon benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print_latency(latency(args.runs, args.stored_runs))
    results = [(shape, memory(args.sessions, shape)) for shape in (SHAPES[0], SHAPES[2])]
    print_memory(results)


if __name__ == "__main__":
    main()
