"""Killing the process between GitHub's reply and the local commit makes no duplicate.

Each case runs ``crash_worker.py`` as a real subprocess with
``FACTORYD_CRASH_AT=output_after_github``: it records the intent, writes to FakeGitHub, and
dies (exit 9) before marking the output applied. The test then restarts in-process: reconcile
(or the agent's repeated request) must find the write by its marker or state and not write
again.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github

from factory.config.outputs_config import Outputs
from factory.crashpoints import CRASH_ENV
from factory.forge.output_requests import RunContext
from factory.forge.outputs import CRASH_AFTER_GITHUB, OutputDecision, OutputGate
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub

WORKER = Path(__file__).with_name("crash_worker.py")
BOT, BOT_TOKEN = "factory-bot", "t-crash-bot"
_names = itertools.count(1)


@dataclass(frozen=True)
class Case:
    """One output kind to crash on: its config, the request, and how to count the result."""

    kind: str
    outputs: dict[str, Any]
    payload: dict[str, Any]
    subject: int
    count: Callable[[FakeGitHub, str], object]


def _comments(fake: FakeGitHub, repo: str) -> object:
    return len(fake.issue(repo, 1).comments)


def _issues_titled(fake: FakeGitHub, repo: str) -> object:
    return sum(1 for i in fake.repo(repo).issues.values() if i.title == "Follow-up")


def _labels(fake: FakeGitHub, repo: str) -> object:
    return fake.labels_of(repo, 1)


def _closed(fake: FakeGitHub, repo: str) -> object:
    issue = fake.issue(repo, 1)
    return (issue.state, len(issue.comments))


def _reviews(fake: FakeGitHub, repo: str) -> object:
    return len(fake.pull(repo, 2).reviews)


CASES = [
    Case("comment", {"comment": {}}, {"body": "Working on it."}, 1, _comments),
    Case(
        "create_issue", {"create_issue": {}}, {"title": "Follow-up", "body": "b"}, 1, _issues_titled
    ),
    Case(
        "add_labels",
        {"add_labels": {"allowed": ["needs-human", "bug"]}},
        {"labels": ["needs-human", "bug"]},
        1,
        _labels,
    ),
    Case(
        "close_issue", {"close_issue": {}}, {"reason": "completed", "comment": "Done."}, 1, _closed
    ),
    Case(
        "review_pull_request",
        {"review_pull_request": {"events": ["COMMENT"]}},
        {"event": "COMMENT", "body": "Looks fine."},
        2,
        _reviews,
    ),
]
EXPECTED: dict[str, object] = {
    "comment": 1,
    "create_issue": 1,
    "add_labels": ["needs-human", "bug"],
    "close_issue": ("closed", 1),
    "review_pull_request": 1,
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGitHub]:
    """One FakeGitHub for the module, with the bot (write) and alice (admin)."""
    with FakeGitHub() as server:
        server.add_user(BOT, token=BOT_TOKEN, permission="write")
        server.add_user("alice", token="t-alice", permission="admin")
        yield server


@pytest.fixture
def repo_name(fake: FakeGitHub) -> str:
    """A fresh repo with issue #1 and pull request #2, both by alice."""
    name = f"acme/crash-{next(_names)}"
    fake.create_repo(name)
    fake.create_issue(name, "Widgets are broken", "It breaks.", as_user="alice")
    fake.commit_files(name, "feature", {"fix.txt": "fixed\n"}, "Fix widgets")
    fake.create_pull(name, "feature", "Fix widgets", as_user="alice")
    return name


def writes(fake: FakeGitHub, repo: str) -> int:
    """Return how many write requests (POST/PATCH/PUT/DELETE) the repo has received."""
    return sum(
        1
        for method, target, _ in fake.request_log
        if method != "GET" and target.startswith(f"/repos/{repo}/")
    )


def crash(fake: FakeGitHub, repo: str, store: RunStore, run_id: str, case: Case) -> int:
    """Run the worker with the crash point armed; return its exit code."""
    env = {**os.environ, CRASH_ENV: CRASH_AFTER_GITHUB, "FACTORYD_TEST_TOKEN": BOT_TOKEN}
    argv = [fake.api_url, repo, str(store.path), run_id, str(case.subject), case.kind]
    argv += [json.dumps(case.payload), json.dumps(case.outputs)]
    done = subprocess.run(
        [sys.executable, str(WORKER), *argv], env=env, capture_output=True, text=True, timeout=60
    )
    return done.returncode


def context(fake: FakeGitHub, repo: str, store: RunStore, run_id: str, case: Case) -> RunContext:
    """Return the restarted daemon's context for the crashed run."""
    client = Github(
        base_url=fake.api_url,
        auth=Auth.Token(BOT_TOKEN),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    outputs = Outputs.model_validate(case.outputs)
    return RunContext(
        run_id, "crash-test", outputs, case.subject, client.get_repo(repo), store, bot_login=BOT
    )


@pytest.fixture
def crashed(
    fake: FakeGitHub, repo_name: str, store: RunStore
) -> Callable[[Case], tuple[RunContext, int]]:
    """Return ``crash_on(case)``: the crashed run's context and the writes GitHub got.

    It checks the crash happened where it should: exit code 9 and the intent still pending.
    """

    def crash_on(case: Case) -> tuple[RunContext, int]:
        run_id = store.create_run("crash-test")
        code = crash(fake, repo_name, store, run_id, case)
        assert code == 9, "the worker did not die at the crash point"
        rows = store.outputs_for_run(run_id)
        assert [r.status for r in rows] == ["intent"], "the crash came after the local commit"
        return context(fake, repo_name, store, run_id, case), writes(fake, repo_name)

    return crash_on


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_reconcile_after_crash_writes_nothing_more(
    crashed: Callable[[Case], tuple[RunContext, int]],
    fake: FakeGitHub,
    repo_name: str,
    case: Case,
) -> None:
    """Reconcile finds the crashed write: no new write, and exactly one object on GitHub."""
    ctx, before = crashed(case)
    [decision] = OutputGate().reconcile(ctx)
    assert (decision.duplicate, writes(fake, repo_name), case.count(fake, repo_name)) == (
        True,
        before,
        EXPECTED[case.kind],
    )


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_reconcile_after_crash_marks_the_output_applied(
    crashed: Callable[[Case], tuple[RunContext, int]], store: RunStore, case: Case
) -> None:
    """Reconcile marks the crashed intent applied, with a URL."""
    ctx, _ = crashed(case)
    OutputGate().reconcile(ctx)
    [row] = store.outputs_for_run(ctx.run_id)
    assert (row.status, bool(row.url)) == ("applied", True)


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_repeated_request_after_crash_writes_nothing_more(
    crashed: Callable[[Case], tuple[RunContext, int]],
    fake: FakeGitHub,
    repo_name: str,
    case: Case,
) -> None:
    """The retried run asking again for the same output finds it instead of writing again."""
    ctx, before = crashed(case)
    decision = OutputGate().request(ctx, case.kind, case.payload)
    assert (decision.duplicate, writes(fake, repo_name), case.count(fake, repo_name)) == (
        True,
        before,
        EXPECTED[case.kind],
    )


def test_reconcile_pending_settles_every_run(
    crashed: Callable[[Case], tuple[RunContext, int]], store: RunStore
) -> None:
    """At daemon start, reconcile_pending settles crashed intents of all runs."""
    contexts = {ctx.run_id: ctx for ctx, _ in (crashed(CASES[0]), crashed(CASES[1]))}
    decisions: list[OutputDecision] = OutputGate().reconcile_pending(
        store, lambda record: contexts[record.run_id]
    )
    assert ([d.duplicate for d in decisions], store.pending_output_intents()) == (
        [True, True],
        [],
    )
