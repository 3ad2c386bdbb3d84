"""One control and three workers as separate processes on PostgreSQL + DBOS (``factoryd worker``).

Thirty issues are opened; triage (``workspace: none``) comments once and labels once on each,
its scripted model taking about 1.5 s per run. A worker is killed with SIGKILL mid-run; the
live workers find it by its lapsed heartbeat and recover its workflows through DBOS.
"""

from __future__ import annotations

import itertools
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from factory.store import RunStore
from factory.testing.fake_anthropic import FakeReply
from factory.testing.processes import DaemonProcess
from factory.testing.relay import signed_headers
from factory.testing.sample import MAINTAINER, REPO, tool_reply
from tests.daemon.conftest import ROOT, SECRET, Factory, daemon_env, wait_for

pytestmark = [pytest.mark.distributed, pytest.mark.postgres]

RUNS = 30
TURN_S = 0.5


class SlowTriage:
    """Triage that comments, labels, then ends; each model turn takes ``TURN_S`` seconds."""

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        """Return the next turn of the conversation in ``body``, after a pause."""
        time.sleep(TURN_S)
        return quick_triage(body)


def quick_triage(body: dict[str, Any]) -> FakeReply:
    """Comment, then label, then end: one triage session is three model requests."""
    turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
    if turn == 0:
        return tool_reply(turn, "output_comment", {"body": "Thanks, triaged."}, "Comment.")
    if turn == 1:
        return tool_reply(turn, "output_add_labels", {"labels": ["bug"]}, "Label.")
    return FakeReply([{"type": "text", "text": "Done."}])


def only_triage(factory: Factory, concurrency: int | None = 9) -> None:
    """Leave only the shipped triage automation, with ``concurrency`` runs at once."""
    for other in factory.settings.automations_dir.glob("*.yaml"):
        if other.name != "triage.yaml":
            other.unlink()
    if concurrency is not None:
        triage = factory.settings.automations_dir / "triage.yaml"
        triage.write_text(triage.read_text() + f"concurrency: {concurrency}\n")


def pending_on(url: str, executor: str) -> int:
    """How many factory_run workflows DBOS has PENDING on ``executor``."""
    dsn = url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('dbos.workflow_status')").fetchone() == (None,):
            return 0  # the workers have not created DBOS's tables yet
        row = conn.execute(
            "SELECT count(*) FROM dbos.workflow_status WHERE status = 'PENDING'"
            " AND executor_id = %s",
            (executor,),
        ).fetchone()
    return int(row[0]) if row else 0


def start_fleet(
    factory: Factory, url: str, tmp: Path, workers: int = 3
) -> tuple[DaemonProcess, list[DaemonProcess], dict[str, str]]:
    base = daemon_env(
        factory.settings,
        FACTORY_POLL_INTERVAL="0.3",
        FACTORY_DATABASE_URL=url,
        FACTORY_WORKER_LAPSE="3",
        FACTORY_WORKER_CONCURRENCY="3",
        FACTORY_CONCURRENCY="9",
    )
    control = DaemonProcess(base, ROOT, args=("start", "--role", "control"))
    control.wait_started()
    fleet = []
    for index in range(workers):
        env = dict(base, FACTORY_DATA_DIR=str(tmp / f"worker-{index}"), FACTORY_PORT="0")
        fleet.append(DaemonProcess(env, ROOT, args=("worker",)))
    for proc in fleet:
        proc.wait_started()
    return control, fleet, base


def open_issues(factory: Factory, count: int) -> list[int]:
    return [
        factory.github.create_issue(REPO, f"Issue {i}", "Broken.", as_user=MAINTAINER).number
        for i in range(count)
    ]


def finished_runs(url: str) -> list[tuple[str, str | None]]:
    with RunStore.open(url, readonly=True) as store:
        runs = store.list_runs(limit=1000)
    return [(r.status, r.subject_key) for r in runs if r.finished]


def settled(url: str, at_least: int) -> bool:
    """True once ``at_least`` runs exist and none is queued or running."""
    with RunStore.open(url, readonly=True) as store:
        runs = store.list_runs(limit=1000)
    return len(runs) >= at_least and all(r.finished for r in runs)


def test_killed_worker_runs_are_recovered_and_write_nothing_twice(
    factory: Factory, postgres_url: str, tmp_path: Path
) -> None:
    """kill -9 of a worker mid-run: every run ends once, one comment and one label per issue."""
    only_triage(factory)
    factory.anthropic.responder = SlowTriage()
    control, fleet, _ = start_fleet(factory, postgres_url, tmp_path)
    try:
        numbers = open_issues(factory, RUNS)
        victim = (tmp_path / "worker-0" / "instance-id").read_text().strip()
        wait_for(lambda: pending_on(postgres_url, victim) > 0, 25, "a run on worker 0")
        fleet[0].kill()
        wait_for(lambda: settled(postgres_url, RUNS), timeout_s=90, what="all 30 runs to end")
    finally:
        for proc in (*fleet, control):
            proc.stop()

    repo = factory.github.repo(REPO)
    comments = sorted(len(repo.issues[n].comments) for n in numbers)
    labels = sorted(factory.github.labels_of(REPO, n).count("bug") for n in numbers)
    mine = {f"issue:{n}" for n in numbers}  # the seeded issues may get triage runs too
    done = [status for status, subject in finished_runs(postgres_url) if subject in mine]
    assert (done, comments, labels) == (
        ["succeeded"] * RUNS,
        [1] * RUNS,
        [1] * RUNS,
    )


TICKER = """name: ticker
description: A subject-less scheduled automation (distributed schedule test).
on:
  - schedule: {every: 2s}
subject: none
trust: anyone
model: claude-haiku-4-5
limits: {max_turns: 2, run_usd: 0.25, daily_usd: 5, timeout: 1m}
workspace: none
concurrency: 9
prompt: Say hello.
"""


def test_two_controls_make_one_run_per_schedule_tick(
    factory: Factory, postgres_url: str, tmp_path: Path
) -> None:
    """Two control processes firing one ``every: 2s`` schedule store one event per tick."""
    for other in factory.settings.automations_dir.glob("*.yaml"):
        other.unlink()
    (factory.settings.automations_dir / "ticker.yaml").write_text(TICKER)
    base = daemon_env(
        factory.settings, FACTORY_POLL_INTERVAL="0", FACTORY_DATABASE_URL=postgres_url
    )
    controls = [
        DaemonProcess(
            dict(base, FACTORY_DATA_DIR=str(tmp_path / f"control-{i}"), FACTORY_PORT="0"),
            ROOT,
            args=("start", "--role", "control"),
        )
        for i in range(2)
    ]
    second = controls.pop()
    try:
        controls[0].wait_started()
        time.sleep(1.0)  # the second control fires one second later in each interval
        controls.append(second)
        second.wait_started()
        time.sleep(7)
    finally:
        for proc in controls:
            proc.stop()
    with RunStore.open(postgres_url, readonly=True) as store:
        runs = store.list_runs(limit=1000)
        keys = [store.get_event(r.event_id).event.dedup_key for r in runs if r.event_id is not None]
    ticks = sorted(datetime.fromisoformat(key.split(":", 3)[3]) for key in keys)
    gaps = {(b - a).total_seconds() >= 2 for a, b in itertools.pairwise(ticks)}
    assert (len(runs) >= 3, len(keys) == len(runs), gaps) == (True, True, {True})


def test_killed_control_restarts_without_losing_a_run(
    factory: Factory, postgres_url: str, tmp_path: Path
) -> None:
    """kill -9 of the control mid-flow, then a restart: every issue gets one run and one comment."""
    only_triage(factory)
    factory.anthropic.responder = SlowTriage()
    control, fleet, base = start_fleet(factory, postgres_url, tmp_path, workers=2)
    count = 10
    try:
        numbers = open_issues(factory, count)
        wait_for(lambda: len(finished_runs(postgres_url)) >= 2, 60, "two runs to end")
        control.kill()
        control = DaemonProcess(base, ROOT, args=("start", "--role", "control"))
        control.wait_started()
        wait_for(lambda: settled(postgres_url, count), 90, "all runs to end")
    finally:
        for proc in (*fleet, control):
            proc.stop()
    repo = factory.github.repo(REPO)
    with RunStore.open(postgres_url, readonly=True) as store:
        runs = store.list_runs(limit=1000)
    mine = {f"issue:{n}" for n in numbers}  # the seeded issues may get triage runs too
    statuses = sorted((r.subject_key or "", r.status) for r in runs if r.subject_key in mine)
    assert (
        statuses,
        {r.status for r in runs},
        [len(repo.issues[n].comments) for n in numbers],
    ) == (sorted((s, "succeeded") for s in mine), {"succeeded"}, [1] * count)


def test_two_workers_never_hold_one_subject_at_once(
    factory: Factory, postgres_url: str, tmp_path: Path
) -> None:
    """Two automations on each new issue, two workers: one subject's runs never overlap."""
    only_triage(factory)
    triage = factory.settings.automations_dir / "triage.yaml"
    twin = triage.read_text().replace("name: triage", "name: triage-twin", 1)
    (factory.settings.automations_dir / "triage-twin.yaml").write_text(twin)
    factory.anthropic.responder = SlowTriage()
    control, fleet, _ = start_fleet(factory, postgres_url, tmp_path, workers=2)
    try:
        numbers = open_issues(factory, 4)
        wait_for(lambda: settled(postgres_url, 8), 90, "both runs on every issue to end")
    finally:
        for proc in (*fleet, control):
            proc.stop()
    with RunStore.open(postgres_url, readonly=True) as store:
        runs = [r for r in store.list_runs(limit=1000) if r.subject_key]
    overlaps = 0
    for number in numbers:
        spans = sorted(
            (r.started_at, r.finished_at) for r in runs if r.subject_key == f"issue:{number}"
        )
        overlaps += sum(1 for a, b in itertools.pairwise(spans) if b[0] < a[1])  # type: ignore[operator]
    mine = [r.status for r in runs if r.subject_key in {f"issue:{n}" for n in numbers}]
    assert (overlaps, mine) == (0, ["succeeded"] * 8)


def test_one_webhook_delivered_to_two_controls_is_stored_once(
    factory: Factory, postgres_url: str, tmp_path: Path
) -> None:
    """The same delivery posted to each of two control processes at once is one event."""
    only_triage(factory)
    ports = []
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    base = daemon_env(
        factory.settings, FACTORY_POLL_INTERVAL="0", FACTORY_DATABASE_URL=postgres_url
    )
    controls = [
        DaemonProcess(
            dict(base, FACTORY_DATA_DIR=str(tmp_path / f"control-{i}"), FACTORY_PORT=str(port)),
            ROOT,
            args=("start", "--role", "control"),
        )
        for i, port in enumerate(ports)
    ]
    try:
        for proc in controls:
            proc.wait_started()
        number = factory.github.create_issue(REPO, "Once", "Broken.", as_user=MAINTAINER).number
        name, payload = factory.github.webhook_log[-1]
        body = json.dumps(payload).encode()
        headers = signed_headers(SECRET, name, body, delivery="delivery-to-both")
        with ThreadPoolExecutor(2) as pool:
            answers = list(
                pool.map(
                    lambda port: (
                        httpx.post(
                            f"http://127.0.0.1:{port}/webhooks/github",
                            content=body,
                            headers=headers,
                        ).status_code
                    ),
                    ports,
                )
            )
    finally:
        for proc in controls:
            proc.stop()
    with RunStore.open(postgres_url, readonly=True) as store:
        stored = store.subject_events(f"issue:{number}", ["issues.opened"])
    assert (name, sorted(answers), len(stored)) == ("issues", [202, 202], 1)
