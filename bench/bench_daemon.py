"""Daemon overhead (event stored → first model request) and memory with 20 sessions in flight.

Everything runs offline on 127.0.0.1: FakeGitHub seeded with the sample world, FakeAnthropic,
the shipped harness and benchmark automations written to a temporary automations directory
(``manual`` trigger, prompt "reply done").

1. **Latency.** A daemon runs in this process (its loop in a thread, background threads and
   HTTP port on, as ``factoryd start`` has them). For each run the bench records
   ``time.time()`` right before ``Daemon.enqueue_manual`` stores the event; the fake model
   records ``time.time()`` when the run's first request arrives (the run is found by a
   ``bench-run ID`` tag in the task text of the first user message) and answers at once with
   a final text (end_turn, no tools). Runs are sequential (enqueue, wait until finished,
   next), so none queues behind another. One row per automation shape:

   - ``workspace: none``, no subject — dispatch + runner + session setup;
   - ``workspace: none``, issue subject — adds the claim on GitHub and the subject snapshot;
   - ``workspace: default-branch``, no subject — adds mirror fetch, checkout and one bwrap
     sandbox exec (reading ``repo:AGENTS.md`` for the prompt, as the builder does);
   - ``workspace: default-branch``, issue subject — all of the above.

2. **Memory.** ``python -m factory start`` as a subprocess (global and automation
   concurrency 20), fed 20 manual runs through its store. The fake model holds every request
   until all 20 are in flight (store: 20 running; fake: 20 requests waiting), then answers.
   Reports the daemon's VmRSS / VmHWM / thread count from ``/proc/PID/status`` before any
   run, with 20 in flight, and after they finished — for ``workspace: none`` and for
   ``workspace: default-branch``.

Usage: ``python bench/bench_daemon.py [--runs 200] [--sessions 20]``. Prints tables; no
assertions on timings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from factory.daemon import Daemon
from factory.dispatch import Dispatcher, enqueue_manual
from factory.events import Subject
from factory.loader import load_factory
from factory.settings import Settings
from factory.store import RunStore
from factory.testing.fake_anthropic import FakeAnthropic, FakeReply
from factory.testing.fake_github import FakeGitHub
from factory.testing.sample import BOT_TOKEN, REPO, World, seed_world

ROOT = Path(__file__).resolve().parents[1]
TAG = re.compile(r"bench-run (\S+)")
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


def wait_until(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``predicate`` until truthy; raise TimeoutError naming ``what`` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")


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


def latency(runs: int) -> list[tuple[str, list[float], int]]:
    """Return, per shape, the event-stored → first-request deltas (s) and failed-run count."""
    rows: list[tuple[str, list[float], int]] = []
    with tempfile.TemporaryDirectory(prefix="bench-daemon-") as name:
        tmp = Path(name)
        with world(tmp, concurrency=1) as (github, anthropic, sample, automations):
            arrivals = Arrivals()
            anthropic.responder = arrivals
            settings = Settings(
                github_repository=REPO,
                github_api_url=github.api_url,
                github_token=BOT_TOKEN,
                anthropic_api_key="sk-ant-bench-key-for-fake",
                anthropic_base_url=anthropic.base_url,
                data_dir=tmp / "data",
                automations_dir=automations,
                harness_dir=ROOT / "harness",
                port=0,
                poll_interval_s=0,
                github_write_pacing_s=0,
                _env_file=None,  # type: ignore[call-arg]
            )
            daemon = Daemon(settings)
            daemon.start()
            loop = threading.Thread(target=daemon.run_loop, name="daemon-loop", daemon=True)
            loop.start()
            try:
                for shape in SHAPES:
                    subject = None
                    if shape.subject == "issue":
                        subject = Subject(kind="issue", number=sample.bug, title="bench")
                    deltas, failed = [], 0
                    for i in range(WARMUP + runs):
                        tag = f"{shape.name}-{i}"
                        seen = arrivals.expect(tag)
                        t0 = time.time()
                        run_id = daemon.enqueue_manual(
                            shape.name, subject=subject, task=f"bench-run {tag}"
                        )
                        if not seen.wait(60):
                            raise TimeoutError(f"no model request for run {run_id} ({tag})")
                        run = wait_until(
                            lambda: (r := daemon.store.get_run(run_id)).finished and r,
                            60,
                            f"run {run_id} to finish",
                        )
                        failed += run.status != "succeeded"
                        if i >= WARMUP:
                            deltas.append(arrivals.first[tag] - t0)
                    rows.append((shape.label, deltas, failed))
                    print(f"  measured: {shape.label}", file=sys.stderr, flush=True)
            finally:
                daemon.stopping.set()
                daemon.wake.set()
                loop.join(timeout=30)
    return rows


def print_latency(rows: list[tuple[str, list[float], int]]) -> None:
    """Print the latency table (milliseconds)."""
    print("\nEvent stored -> first model request (in-process daemon, zero-latency fake model)")
    head = f"{'automation shape':<42} {'runs':>5} {'median':>9} {'p95':>9} {'min':>9} {'max':>9}"
    print(head + "  failed")
    print("-" * (len(head) + 8))
    for label, deltas, failed in rows:
        ms = sorted(d * 1000 for d in deltas)
        p95 = statistics.quantiles(ms, n=20)[18] if len(ms) >= 2 else ms[0]
        print(
            f"{label:<42} {len(ms):>5} {statistics.median(ms):>6.1f} ms {p95:>6.1f} ms "
            f"{ms[0]:>6.1f} ms {ms[-1]:>6.1f} ms  {failed:>6}"
        )


# -- 2. memory ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    """Memory and threads of one process, from /proc/PID/status."""

    rss_kb: int
    hwm_kb: int
    threads: int


def proc_status(pid: int) -> Proc:
    """Read VmRSS, VmHWM (kB) and Threads of ``pid``; raises OSError if it is gone."""
    fields: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return Proc(
        int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0]), int(fields["Threads"])
    )


class DaemonProcess:
    """``python -m factory start`` in a subprocess; waits for its ``daemon_started`` line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "factory", "start"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.tail: list[str] = []
        self.started = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.tail = [*self.tail[-19:], line.rstrip()]
            try:
                event = json.loads(line).get("event", "")
            except ValueError:
                continue
            if event == "daemon_started":
                self.started.set()

    def wait_started(self, timeout_s: float = 60.0) -> None:
        """Return once the daemon logged ``daemon_started``; raise RuntimeError if it died."""
        deadline = time.monotonic() + timeout_s
        while not self.started.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("daemon did not start:\n" + "\n".join(self.tail))

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 20 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def memory(sessions: int, shape: Shape) -> dict[str, Proc]:
    """Run ``sessions`` concurrent runs of ``shape`` in a daemon subprocess; return its status."""
    out: dict[str, Proc] = {}
    with tempfile.TemporaryDirectory(prefix="bench-daemon-mem-") as name:
        tmp = Path(name)
        with world(tmp, concurrency=sessions) as (github, anthropic, _sample, automations):
            arrivals = Arrivals(hold=True)
            anthropic.responder = arrivals
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GITHUB_REPOSITORY": REPO,
                "GITHUB_API_URL": github.api_url,
                "GITHUB_TOKEN": BOT_TOKEN,
                "ANTHROPIC_API_KEY": "sk-ant-bench-key-for-fake",
                "ANTHROPIC_BASE_URL": anthropic.base_url,
                "FACTORY_DATA_DIR": str(tmp / "data"),
                "FACTORY_AUTOMATIONS_DIR": str(automations),
                "FACTORY_HARNESS_DIR": str(ROOT / "harness"),
                "FACTORY_PORT": "0",
                "FACTORY_POLL_INTERVAL": "0",
                "FACTORY_GITHUB_WRITE_PACING": "0",
                "FACTORY_CONCURRENCY": str(sessions),
                "FACTORY_LOG_FORMAT": "json",
            }
            daemon = DaemonProcess(env)
            try:
                daemon.wait_started()
                time.sleep(1.0)  # let the HTTP port, scheduler and reloader settle
                pid = daemon.proc.pid
                out["idle, before any run"] = proc_status(pid)
                db = tmp / "data" / "factory.db"
                config = load_factory(automations, ROOT / "harness")
                with RunStore.open(db) as store:
                    dispatcher = Dispatcher(store, lambda: config, global_concurrency=sessions)
                    for i in range(sessions):
                        task = f"bench-run mem-{shape.name}-{i}"
                        enqueue_manual(store, dispatcher, shape.name, task=task)

                def in_flight() -> bool:
                    with RunStore.open(db, readonly=True) as store:
                        running = store.count_running(shape.name)
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
    print("\nDaemon process (python -m factory start, concurrency 20): /proc/PID/status")
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
    parser.add_argument("--sessions", type=int, default=20, help="concurrent sessions (memory)")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # errors only
    print(f"factoryd daemon benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print_latency(latency(args.runs))
    results = [(shape, memory(args.sessions, shape)) for shape in (SHAPES[0], SHAPES[2])]
    print_memory(results)


if __name__ == "__main__":
    main()
