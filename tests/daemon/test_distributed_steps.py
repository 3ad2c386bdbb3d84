"""A run's phases as DBOS workflow steps: a worker dies between steps, another recovers the run.

One control and worker A (one run at a time, a crash point armed) start; an issue is opened;
A dies at the crash point; worker B starts, finds A by its lapsed heartbeat and recovers the
workflow. Triage (``workspace: none``) is scripted to take three model turns per session, so
the model's request count tells how many sessions each run had.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from factory.forge.claims import CLAIM_REFS
from factory.store import RunStore
from factory.testing.processes import DaemonProcess, fired_points
from factory.testing.sample import MAINTAINER, REPO
from tests.daemon.conftest import ROOT, Factory, daemon_env, wait_for
from tests.daemon.test_distributed import only_triage, quick_triage
from tests.gitcmd import git

pytestmark = [pytest.mark.distributed, pytest.mark.postgres]

TURNS = 3
"""Model requests of one triage session (quick_triage: comment, label, done)."""


def settled(url: str) -> list[tuple[str | None, str]]:
    """The (subject, status) of every run once at least one exists and all have ended."""
    with RunStore.open(url, readonly=True) as store:
        runs = store.list_runs(limit=1000)
    if not runs or not all(r.finished for r in runs):
        return []
    return sorted((r.subject_key, r.status) for r in runs)


def dbos_steps(url: str, run_id: str) -> list[str]:
    """The names of the DBOS steps checkpointed for the workflow of ``run_id``, in order."""
    dsn = url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT function_name FROM dbos.operation_outputs WHERE workflow_uuid = %s"
            " ORDER BY function_id",
            (run_id,),
        ).fetchall()
    return [str(row[0]) for row in rows]


def crash_and_recover(
    factory: Factory, url: str, tmp: Path, crash_at: str
) -> tuple[list[str], list[tuple[str | None, str]], int]:
    """Run one issue's triage with worker A dying at ``crash_at`` and worker B recovering it;
    return the fired crash points, the runs' (subject, status) and the issue's number."""
    only_triage(factory, concurrency=None)
    factory.anthropic.responder = quick_triage
    base = daemon_env(
        factory.settings,
        FACTORY_POLL_INTERVAL="0.3",
        FACTORY_DATABASE_URL=url,
        FACTORY_WORKER_LAPSE="2",
        FACTORY_WORKER_CONCURRENCY="1",
    )
    crash_log = tmp / "crash.log"
    a_env = dict(base, FACTORY_DATA_DIR=str(tmp / "worker-a"), FACTORY_PORT="0")
    b_env = dict(a_env, FACTORY_DATA_DIR=str(tmp / "worker-b"), FACTORY_WORKER_CONCURRENCY="2")
    control = DaemonProcess(base, ROOT, args=("start", "--role", "control"))
    worker_a = DaemonProcess(a_env, ROOT, args=("worker",), crash_at=crash_at, crash_log=crash_log)
    procs = [control, worker_a]
    try:
        control.wait_started()
        worker_a.wait_started()
        number = factory.github.create_issue(REPO, "Crash me", "Broken.", as_user=MAINTAINER)
        wait_for(lambda: worker_a.proc.poll() is not None, 30, f"worker A to die at {crash_at}")
        procs.append(DaemonProcess(b_env, ROOT, args=("worker",)))
        procs[-1].wait_started()
        runs = wait_for(lambda: settled(url), 30, "every run to end")
    finally:
        for proc in procs:
            proc.stop()
    return fired_points(crash_log), runs, number.number


def writes_per_issue(factory: Factory, runs: list[tuple[str | None, str]]) -> set[tuple[int, int]]:
    """The (comments, ``bug`` labels) of each issue that had a run: {(1, 1)} when none doubled."""
    repo = factory.github.repo(REPO)
    numbers = {int(subject.split(":")[1]) for subject, _ in runs if subject}
    return {
        (len(repo.issues[n].comments), factory.github.labels_of(REPO, n).count("bug"))
        for n in numbers
    }


def test_worker_dead_after_session_step_does_not_run_the_session_again(
    factory: Factory, postgres_url: str, tmp_path: Path
) -> None:
    """A worker dying after the session step: the recovered run finishes with no second session."""
    fired, runs, number = crash_and_recover(factory, postgres_url, tmp_path, "run_before_finish")
    assert (
        fired,
        (f"issue:{number}", "succeeded") in runs,
        {status for _, status in runs},
        len(factory.anthropic.requests),
        writes_per_issue(factory, runs),
    ) == (["run_before_finish"], True, {"succeeded"}, TURNS * len(runs), {(1, 1)})


def test_worker_dead_after_claim_step_claims_again_and_ends_once(
    factory: Factory, postgres_url: str, tmp_path: Path
) -> None:
    """A worker dying after the claim step: the recovered run releases its claim, claims anew,
    runs one session and ends once, its claim released."""
    fired, runs, number = crash_and_recover(factory, postgres_url, tmp_path, "run_after_claim_step")
    claims_taken = [
        path
        for method, path, status in factory.github.request_log
        if (method, status) == ("POST", 201) and path.endswith("/git/refs")
    ]
    with RunStore.open(postgres_url, readonly=True) as store:
        steps = {tuple(dbos_steps(postgres_url, r.id)) for r in store.list_runs(limit=1000)}
    leftover = [r for r in repo_refs(factory) if r.startswith(CLAIM_REFS)]
    assert (
        fired,
        (f"issue:{number}", "succeeded") in runs,
        {status for _, status in runs},
        len(factory.anthropic.requests),
        writes_per_issue(factory, runs),
        len(claims_taken),
        leftover,
        steps,
    ) == (
        ["run_after_claim_step"],
        True,
        {"succeeded"},
        TURNS * len(runs),
        {(1, 1)},
        len(runs) + 1,
        [],
        {("begin", "claim", "workspace", "session", "outputs", "finish")},
    )


def repo_refs(factory: Factory) -> list[str]:
    """Every ref of the sample repository's bare git repository on FakeGitHub."""
    bare = factory.github.repo(REPO).git.path
    return git("for-each-ref", "--format=%(refname)", cwd=bare).split()
