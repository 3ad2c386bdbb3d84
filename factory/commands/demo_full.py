"""``factoryd demo --scenario full``: the whole factory loop in one scripted world.

The daemon is ``factoryd start`` in a child process (``DaemonProcess``), pointed at
FakeGitHub (webhooks relayed) and at FakeAnthropic playing every automation
(``ScriptedLoop``). The maintainer opens a vague issue; the planner refines it; the
maintainer approves it; the builder opens a pull request; the reviewer reviews it; CI (played
here: a GitHub Actions check run on the head) fails once and the shepherd pushes the missing
test; CI passes; the maintainer approves and the shepherd's ``merge_pull_request`` passes the
merge gate (the world's policy puts the sample's files in the low tier); the post-merge
verifier passes. A second change goes the same way but breaks the smoke check: the verifier
files an issue and the daemon opens the revert pull request. Last, a bug report is
reproduced with a failing test and fixed by the bug fixer.

``full_world`` plays it and yields what is needed to check it (the test uses it too);
``run_full_demo`` prints the timeline and the factory figures (``factory.commands.demo_figures``).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from factory.commands.demo_figures import figures, timeline
from factory.store import RunRecord, RunStore
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.fake_github import FakeGitHub
from factory.testing.processes import DaemonProcess
from factory.testing.relay import WebhookRelay
from factory.testing.sample import (
    BOT,
    MAINTAINER,
    READY,
    REPO,
    fake_settings,
    seed_repo,
    with_test_command,
)
from factory.testing.sample_loop import (
    BUG,
    CI_FAILURE,
    LOOP_FILES,
    SMOKE,
    SPEEDUP,
    VAGUE,
    ScriptedLoop,
)

SECRET = "full-demo-webhook-secret"  # noqa: S105  (a demo value)
LOW_PATHS = 'paths: ["docs/**", "tests/**", "**/*.md"]'
WORLD_LOW_PATHS = 'paths: ["docs/**", "tests/**", "**/*.md", "calc.py", "test_calc.py"]'


@dataclass(frozen=True)
class FullWorld:
    """The played world: FakeGitHub (still serving), the store and the numbers."""

    github: FakeGitHub
    db_path: Path
    vague: int
    """The vague issue the planner refined."""
    built: int
    """Its pull request: CI failed once, the shepherd fixed it, it merged."""
    speedup: int
    """The second change's issue."""
    broken: int
    """Its pull request: merged, then reverted."""
    revert: int
    """The revert pull request the daemon opened."""
    smoke_issue: int
    """The issue the verifier filed."""
    bug: int
    """The bug report."""
    bug_fix: int
    """The bug fixer's pull request."""


class _Waiter:
    def __init__(self, db: Path, timeout_s: float, proc: DaemonProcess) -> None:
        self.db, self.timeout_s, self.proc = db, timeout_s, proc

    def runs(self, automation: str, subject: str) -> list[RunRecord]:
        if not self.db.exists():
            return []
        with RunStore.open(self.db, readonly=True) as store:
            return store.list_runs(automation=automation, subject=subject, limit=100)

    def until(self, what: str, predicate: Callable[[], object]) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not predicate():
            if self.proc.proc.poll() is not None:
                raise TimeoutError(f"the daemon exited while waiting for {what}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {self.timeout_s:.0f}s waiting for {what}")
            time.sleep(0.05)

    def finished(self, automation: str, subject: str, count: int = 1) -> None:
        self.until(
            f"{count} finished {automation} run(s) on {subject}",
            lambda: len([r for r in self.runs(automation, subject) if r.finished]) >= count,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pull_of(github: FakeGitHub, prefix: str) -> int | None:
    pulls = github.repo(REPO).pulls.values()
    return next((p.number for p in pulls if p.head_ref.startswith(prefix)), None)


def _ci(github: FakeGitHub, number: int, conclusion: str) -> None:
    """CI (GitHub Actions) finishes a ``test`` job on the pull request's head."""
    git = github.repo(REPO).git
    head = git.resolve(f"refs/heads/{github.pull(REPO, number).head_ref}") or ""
    failed = conclusion == "failure"
    run = github.add_check_run(
        REPO,
        head,
        "test",
        conclusion,
        as_user=BOT,
        app="github-actions",
        title="1 failed" if failed else "all passed",
        text=CI_FAILURE if failed else None,
    )
    if failed:
        github.set_job_log(REPO, run.id, f"Run python3 -m unittest\n{CI_FAILURE}\n")


def _prepare(root: Path, source: Path) -> tuple[Path, Path]:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    automations = Path(shutil.copytree(source / "automations", root / "automations"))
    harness = Path(shutil.copytree(source / "harness", root / "harness"))
    policy = harness / "policy.yaml"
    text = policy.read_text()
    changed = text.replace(LOW_PATHS, WORLD_LOW_PATHS, 1)
    changed = with_test_command(changed)
    if changed.count('"calc.py"') != 1:
        raise ValueError(f"{policy}: the low tier's paths line was not found")
    policy.write_text(changed)
    (harness / "smoke.md").write_text(SMOKE)
    return automations, harness


@contextmanager
def full_world(
    root: Path,
    *,
    source: Path = Path(),
    timeout_s: float = 60.0,
    say: Callable[[str], None] = lambda line: None,
) -> Iterator[FullWorld]:
    """Play the full loop in ``root`` (emptied first) with the automations and harness of
    ``source``; yield the world with the daemon stopped and FakeGitHub still serving.

    Raises TimeoutError when a hand-off does not happen within ``timeout_s``.
    """
    automations, harness = _prepare(root, source)
    with FakeGitHub(root / "github") as github, FakeAnthropic() as anthropic:
        anthropic.responder = ScriptedLoop()
        seed_repo(github)
        github.commit_files(REPO, "main", LOOP_FILES, "Fix add(), add div()")
        settings = fake_settings(
            github,
            anthropic,
            data_dir=root / "data",
            webhook_secret=SECRET,
            automations_dir=automations,
            harness_dir=harness,
            port=_free_port(),
        )
        env = settings.to_env()
        env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), FACTORY_LOG_FORMAT="json")
        proc = DaemonProcess(env, source)
        relay: WebhookRelay | None = None
        try:
            proc.wait_started()
            url = f"http://127.0.0.1:{settings.port}/webhooks/github"
            relay = WebhookRelay(github, url, SECRET).start()
            say(f"daemon started (pid {proc.proc.pid}); FakeGitHub on {github.api_url}")
            wait = _Waiter(settings.db_path, timeout_s, proc)
            world = _play(github, wait, say)
            wait.until("every run to finish", lambda: _all_finished(settings.db_path))
        finally:
            if relay is not None:
                relay.stop()
            proc.stop()
        yield FullWorld(github, settings.db_path, **world)


def _all_finished(db: Path) -> bool:
    with RunStore.open(db, readonly=True) as store:
        return all(r.finished for r in store.list_runs(limit=1000))


def _deliver(github: FakeGitHub, wait: _Waiter, say: Callable[[str], None], issue: int) -> int:
    """Approve ``issue``, wait for its pull request and the first review; return the PR."""
    say(f"maintainer mara approves #{issue} ({READY})")
    github.add_labels(REPO, issue, READY, as_user=MAINTAINER)
    wait.finished("builder", f"issue:{issue}")
    number = _pull_of(github, f"factory/issue-{issue}-")
    if number is None:
        raise TimeoutError(f"the builder opened no pull request for #{issue}")
    say(f"builder opened #{number}")
    wait.finished("pr-reviewer", f"pull_request:{number}")
    say(f"reviewer reviewed #{number}")
    return number


def _merge(github: FakeGitHub, wait: _Waiter, say: Callable[[str], None], number: int) -> None:
    """CI passes, the maintainer approves, the shepherd merges, the verifier runs."""
    _ci(github, number, "success")
    say(f"CI passes on #{number}; maintainer mara approves it")
    github.review(REPO, number, "APPROVE", "Looks right.", as_user=MAINTAINER)
    wait.until(f"#{number} to merge", lambda: github.pull(REPO, number).merged)
    say(f"shepherd merged #{number} through the merge gate")
    wait.finished("post-merge-verifier", f"pull_request:{number}")


def _plan(
    github: FakeGitHub, wait: _Waiter, say: Callable[[str], None], issue: tuple[str, str]
) -> int:
    number = github.create_issue(REPO, *issue, as_user=MAINTAINER).number
    say(f"maintainer mara opens #{number}: {issue[0]!r}")
    wait.finished("planner", f"issue:{number}")
    say(f"planner refined #{number}")
    return number


def _play(github: FakeGitHub, wait: _Waiter, say: Callable[[str], None]) -> dict[str, int]:
    vague = _plan(github, wait, say, VAGUE)
    built = _deliver(github, wait, say, vague)
    _ci(github, built, "failure")
    say(f"CI fails on #{built}")
    wait.finished("pr-shepherd", f"pull_request:{built}")
    say(f"shepherd pushed the fix to #{built}")
    _merge(github, wait, say, built)
    say(f"verifier: #{built} passes the smoke checks")
    speedup = _plan(github, wait, say, SPEEDUP)
    broken = _deliver(github, wait, say, speedup)
    _merge(github, wait, say, broken)
    revert = _pull_of(github, f"factory/revert-pr-{broken}")
    smoke = [i.number for i in github.repo(REPO).issues.values() if i.user == BOT and not i.is_pr]
    if revert is None or not smoke:
        raise TimeoutError(f"the verifier filed no issue or revert for #{broken}")
    say(f"verifier: #{broken} breaks the smoke checks → issue #{smoke[0]}, revert #{revert}")
    wait.finished("pr-reviewer", f"pull_request:{revert}")
    bug = _plan(github, wait, say, BUG)
    github.add_labels(REPO, bug, "bug", as_user=MAINTAINER)
    github.add_labels(REPO, bug, READY, as_user=MAINTAINER)
    say(f"maintainer mara labels #{bug} bug and {READY}")
    wait.finished("bug-fixer", f"issue:{bug}")
    fix = _pull_of(github, f"factory/issue-{bug}-")
    if fix is None:
        raise TimeoutError(f"the bug fixer opened no pull request for #{bug}")
    say(f"bug fixer reproduced #{bug} with a failing test and opened #{fix}")
    wait.finished("pr-reviewer", f"pull_request:{fix}")
    return {
        "vague": vague,
        "built": built,
        "speedup": speedup,
        "broken": broken,
        "revert": revert,
        "smoke_issue": smoke[0],
        "bug": bug,
        "bug_fix": fix,
    }


def run_full_demo(
    root: Path, *, timeout_s: float = 60.0, say: Callable[[str], None] = print
) -> list[str]:
    """Play the full loop in ``root``; print the timeline and the figures; return them."""
    with full_world(root, timeout_s=timeout_s, say=say) as world:
        lines = [
            "",
            "timeline:",
            *timeline(world.db_path, [world.vague, world.speedup, world.bug]),
            "",
            "factory figures:",
        ]
        lines += figures(world.db_path)
    for line in lines:
        say(line)
    return lines
