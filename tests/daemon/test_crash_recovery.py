"""kill -9 the daemon at 20 points of the end-to-end flow: nothing is lost, nothing doubled."""

from __future__ import annotations

import os
import random
import re
import time
from pathlib import Path

import pytest

from factory.daemon.recovery import MAX_ATTEMPTS_AFTER_INTERRUPT
from factory.forge.markers import parse_markers
from factory.store import RunStore
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.fake_github import FakeGitHub
from factory.testing.processes import DaemonProcess
from factory.testing.sample import (
    BOT_TOKEN,
    MAINTAINER,
    MAINTAINER_TOKEN,
    OUTSIDER,
    OUTSIDER_TOKEN,
    READY,
    REPO,
    SAMPLE_FILES,
    ScriptedBuilder,
    fake_settings,
)
from tests.daemon.conftest import daemon_env

ROOT = Path(__file__).resolve().parents[2]
ISSUES = 20
CRASH_POINTS = [
    "dispatch_before_mark",
    "run_after_claim",
    "run_after_workspace",
    "session_after_model_call",
    "pr_after_push",
    "output_after_github",
    "run_before_finish",
]


def _closes(body: str | None, number: int) -> bool:
    """True when ``body`` says it closes exactly issue ``number``."""
    return re.search(rf"Closes #{number}\b", body or "") is not None


def _issue_settled(store_path: Path, fake: FakeGitHub, number: int) -> bool:
    """None of the issue's runs waits or runs, and it has its PR — or was given up on.

    Giving up is the crash-loop guard: a run interrupted MAX_ATTEMPTS_AFTER_INTERRUPT times
    in a row (here: a crash point armed in each of several daemons in a row) is not
    re-queued again.
    """
    if not store_path.exists():
        return False
    with RunStore.open(store_path, readonly=True) as store:
        runs = store.list_runs(subject=f"issue:{number}", limit=100)
    if not runs or not all(r.finished for r in runs):
        return False
    has_pr = any(
        _closes(fake.issue(REPO, p.number).body, number) for p in fake.repo(REPO).pulls.values()
    )
    return has_pr or _given_up(runs[0].status, runs[0].attempt)


def _given_up(status: str, attempt: int) -> bool:
    return status == "interrupted" and attempt >= MAX_ATTEMPTS_AFTER_INTERRUPT


@pytest.mark.slow
def test_kill_9_at_random_points_creates_nothing_twice(tmp_path: Path) -> None:
    """20 kills (crash points and random timers), restarts: one PR per issue, no duplicates."""
    seed = int(os.environ.get("FACTORYD_CRASH_SEED", "20261122"))
    rng = random.Random(seed)
    automations = tmp_path / "automations"
    automations.mkdir()
    (automations / "builder.yaml").write_text((ROOT / "automations/builder.yaml").read_text())
    with FakeGitHub(tmp_path / "github") as fake, FakeAnthropic() as anthropic:
        anthropic.responder = ScriptedBuilder()
        fake.add_user(MAINTAINER, token=MAINTAINER_TOKEN, permission="admin")
        fake.add_user(OUTSIDER, token=OUTSIDER_TOKEN, permission="read")
        fake.add_user("factory-bot", token=BOT_TOKEN, permission="write")
        fake.create_repo(REPO, files=SAMPLE_FILES)
        numbers = [
            fake.create_issue(
                REPO, f"add() is wrong ({i})", "It subtracts.", as_user=MAINTAINER
            ).number
            for i in range(ISSUES)
        ]
        settings = fake_settings(
            fake,
            anthropic,
            data_dir=tmp_path / "data",
            webhook_secret="unused",
            automations_dir=automations,
            harness_dir=ROOT / "harness",
        )
        env = daemon_env(settings, FACTORY_POLL_INTERVAL="0.3")
        db = tmp_path / "data" / "factory.db"
        kills: list[str] = []
        # Every crash point once, the rest random kill -9 timers or points, in random order.
        plan: list[str | None] = list(CRASH_POINTS)
        plan += [
            None if rng.random() < 0.6 else rng.choice(CRASH_POINTS)
            for _ in range(ISSUES - len(plan))
        ]
        rng.shuffle(plan)
        for number, crash_at in zip(numbers, plan, strict=True):
            use_timer = crash_at is None
            daemon = DaemonProcess(env, ROOT, crash_at=crash_at)
            if daemon.wait_started(may_crash=True):
                fake.add_labels(REPO, number, READY, as_user=MAINTAINER)
                if use_timer:
                    time.sleep(rng.uniform(0.05, 2.5))
                else:
                    deadline = time.monotonic() + 20
                    while daemon.proc.poll() is None and time.monotonic() < deadline:
                        if _issue_settled(db, fake, number):
                            break
                        time.sleep(0.05)
            else:
                fake.add_labels(REPO, number, READY, as_user=MAINTAINER)
            died_alone = daemon.proc.poll() is not None
            daemon.kill()
            kills.append(f"{crash_at if crash_at and died_alone else 'kill -9 timer'}")
        final = DaemonProcess(env, ROOT)
        final.wait_started()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if all(_issue_settled(db, fake, n) for n in numbers):
                break
            time.sleep(0.2)
        final.stop()

        pulls_per_issue = {
            n: sum(
                _closes(fake.issue(REPO, p.number).body, n) for p in fake.repo(REPO).pulls.values()
            )
            for n in numbers
        }
        with RunStore.open(db, readonly=True) as store:
            runs = store.list_runs(limit=1000)
        markers = [
            m.key
            for p in fake.repo(REPO).pulls.values()
            for m in parse_markers(fake.issue(REPO, p.number).body)
        ]
        comments = [c.body for n in numbers for c in fake.issue(REPO, n).comments]
        unlabels = [
            (e.issue_number, e.label.name if e.label else None)
            for e in fake.repo(REPO).events
            if e.event == "unlabeled"
        ]
        print(
            f"\ncrash test (seed {seed}): {len(kills)} kills — "
            + ", ".join(f"{k}: {kills.count(k)}" for k in sorted(set(kills)))
            + f"; {len(runs)} runs; {len(fake.repo(REPO).pulls)} PRs"
        )
        given_up = {
            n
            for n in numbers
            if (latest := [r for r in runs if r.subject_key == f"issue:{n}"])
            and _given_up(latest[0].status, latest[0].attempt)
        }
        odd = {n for n, count in pulls_per_issue.items() if count != 1} - given_up
        with RunStore.open(db, readonly=True) as store:
            story = [
                (
                    r.subject_key,
                    r.attempt,
                    r.status,
                    r.stop_reason,
                    r.error,
                    [(o.kind, o.status, o.result) for o in store.outputs_for_run(r.id)],
                )
                for r in runs
                if r.subject_key in {f"issue:{n}" for n in odd}
            ]
        limit = MAX_ATTEMPTS_AFTER_INTERRUPT
        print(f"issues given up after {limit} interrupted attempts in a row: {len(given_up)}")
        assert max(pulls_per_issue.values()) == 1, story
        assert odd == set(), story
        assert len(markers) == len(set(markers))
        assert len(comments) == len(set(comments))
        assert len(unlabels) == len(set(unlabels))
        assert [r.id for r in runs if not r.finished] == []
