"""Distributed execution benchmark: runs per minute with 1 and 3 workers, DBOS vs in-process.

Each scenario gets a fresh PostgreSQL database (a throwaway server, factory/testing/postgres.py),
FakeGitHub and an instant scripted model (zero latency): triage (``workspace: none``) comments
once and labels once on each of N new issues. Measured from the first issue opened to the last
run finished. In-process = ``factoryd start`` on the same PostgreSQL store (threads); DBOS =
``factoryd start --role control`` plus workers, each process its own child.

    .venv/bin/python bench/bench_distributed.py [--runs 20]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

from factory.store import RunStore
from factory.testing.fake_anthropic import FakeAnthropic, FakeReply
from factory.testing.fake_github import FakeGitHub
from factory.testing.postgres import PostgresServer
from factory.testing.processes import DaemonProcess, wait_until
from factory.testing.sample import MAINTAINER, REPO, fake_settings, seed_world, tool_reply

ROOT = Path(__file__).resolve().parents[1]
PER_WORKER = 2
SECRET = "webhook-secret-for-bench"  # noqa: S105  (the fake GitHub's, not a credential)


def instant_triage(body: dict[str, Any]) -> FakeReply:
    """Comment, label, done: no pause."""
    turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
    if turn == 0:
        return tool_reply(turn, "output_comment", {"body": "Triaged."}, "Comment.")
    if turn == 1:
        return tool_reply(turn, "output_add_labels", {"labels": ["bug"]}, "Label.")
    return FakeReply([{"type": "text", "text": "Done."}])


def scenario(server: PostgresServer, tmp: Path, runs: int, workers: int) -> float:
    """Return seconds for ``runs`` runs with ``workers`` DBOS workers (0: in-process)."""
    url = server.create_database()
    automations = Path(shutil.copytree(ROOT / "automations", tmp / "automations"))
    for other in automations.glob("*.yaml"):
        if other.name != "triage.yaml":
            other.unlink()
    triage = automations / "triage.yaml"
    triage.write_text(triage.read_text() + "concurrency: 64\n")
    harness = Path(shutil.copytree(ROOT / "harness", tmp / "harness"))
    with FakeGitHub(tmp / "github") as github, FakeAnthropic() as anthropic:
        anthropic.responder = instant_triage
        seed_world(github, label=False)
        settings = fake_settings(
            github,
            anthropic,
            data_dir=tmp / "control",
            automations_dir=automations,
            harness_dir=harness,
            webhook_secret=SECRET,
        )
        env = settings.to_env()
        total = PER_WORKER * max(1, workers)
        env.update(
            PATH=os.environ.get("PATH", "/usr/bin:/bin"),
            FACTORY_LOG_FORMAT="json",
            FACTORY_POLL_INTERVAL="0.2",
            FACTORY_DATABASE_URL=url,
            FACTORY_CONCURRENCY=str(total),
            FACTORY_WORKER_CONCURRENCY=str(PER_WORKER),
            FACTORY_GITHUB_WRITE_PACING="0",
        )
        args = ("start",) if workers == 0 else ("start", "--role", "control")
        procs = [DaemonProcess(env, ROOT, args=args)]
        for index in range(workers):
            worker_env = dict(env, FACTORY_DATA_DIR=str(tmp / f"w{index}"), FACTORY_PORT="0")
            procs.append(DaemonProcess(worker_env, ROOT, args=("worker",)))
        try:
            for proc in procs:
                proc.wait_started()
            time.sleep(2.0)  # the workers' DBOS launch follows daemon_started
            started = time.monotonic()
            for i in range(runs):
                github.create_issue(REPO, f"Issue {i}", "Broken.", as_user=MAINTAINER)

            def done() -> bool:
                with RunStore.open(url, readonly=True) as store:
                    found = store.list_runs(limit=1000)
                return len(found) >= runs and all(r.finished for r in found)

            wait_until(done, 600, "every run to finish")
            return time.monotonic() - started
        finally:
            for proc in procs:
                proc.stop()


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    server = PostgresServer.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            seconds = {}
            for workers in (0, 1, 3):
                where = Path(tmp) / f"s{workers}"
                where.mkdir()
                seconds[workers] = scenario(server, where, runs, workers)
    finally:
        server.stop()
    for workers, label in ((0, "in-process"), (1, "1 worker"), (3, "3 workers")):
        print(f"{label}: {runs / seconds[workers] * 60:.1f} runs/min ({seconds[workers]:.1f} s)")
    overhead = (seconds[1] - seconds[0]) / runs * PER_WORKER
    print(f"dbos_overhead_per_run_s: {overhead:.3f} (1 worker vs in-process, same concurrency)")
    print(f"throughput_3_vs_1_workers: {seconds[1] / seconds[3]:.1f}x")


if __name__ == "__main__":
    main()
