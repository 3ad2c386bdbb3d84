"""Tests that kill mutants `make mutants` found alive in the recovery module.

Recovery is driven directly (no daemon) over a real RunStore and a real PyGithub client
against FakeGitHub; the crash points are proved in a child process that really dies.

Equivalent mutants (no test can tell them apart), by name under ``factory.daemon.recovery.``:
(Numbers as of tree e1c5af3: the Sentry side in ``reconcile_outputs``' contexts.)
- ``x_reconcile_outputs__mutmut_18``/``_19`` (``subject_slug`` "XXrecoveredXX"/"RECOVERED"):
  the slug only names the branch ``find_open`` looks up first, and no run ever pushes a
  branch named after it (the runner names branches after the subject), so the lookup falls
  through to the marker either way; upper case is folded by ``branch_name`` anyway.
- ``x_reconcile_outputs__mutmut_16``/``_56`` (``auth_header`` dropped, ``secrets`` dropped,
  whose defaults are the same). ``mirror``/``data_dir``/``auth_header`` None
  (``_2``/``_4``/``_6``), ``mirror``/``data_dir`` dropped (``_10``/``_12``) and ``secrets``
  None (``_45``) are not equivalent: the revert tests kill them.
- ``x_reconcile_outputs__mutmut_33``/``_34``/``_40``/``_41``/``_61`` (no automation, its
  name None, ``outputs`` None or ``Outputs()`` instead of its ``outputs``): settling a
  recorded intent never consults the automation or its config (``OutputGate._settle``
  performs or finds the stored payload; the config was checked when it was recorded).
- ``x_reconcile_outputs__mutmut_47``/``_58`` (``key_scope`` None or dropped): the scope
  only names the branch looked up first, which (see the slug) never exists.
- ``x_reconcile_outputs__mutmut_75``/``_77`` (``run_sentry_side`` given None for the store
  or the subject key): settling a sentry_update uses only the side's client; the Sentry issue
  is the one in the recorded payload, not the side's.
- ``x_stranded_runs__mutmut_4`` (``limit=None``): the store reads no limit as all rows, a
  superset of the newest 500 that the scan sees in any test short of 500 runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from github import Auth
from structlog.testing import capture_logs

from factory.agent.model import AnthropicModel
from factory.config.loader import FactoryConfig, load_factory
from factory.crashpoints import CRASH_ENV, CRASH_EXIT_CODE, CRASH_LOG_ENV
from factory.daemon.recovery import (
    GIVEN_UP_STEP,
    MAX_ATTEMPTS_AFTER_INTERRUPT,
    give_up,
    give_up_note,
    reconcile_outputs,
    recover,
    release_claim,
    requeue,
    stranded_runs,
)
from factory.daemon.runenv import GitHubSide, RunEnv, holder_of, key_scope
from factory.daemon.slack_side import SlackRuns
from factory.daemon.wiring import Sandboxes
from factory.events import Event, Subject
from factory.forge.claims import Claims, claim_ref
from factory.forge.client import Pacing, make_github
from factory.forge.markers import append_marker, strip_markers
from factory.forge.output_requests import CommentRequest, PreparedOutput, RunContext, prepare
from factory.forge.trust import PermissionTrust
from factory.sentry.client import SentryClient
from factory.slack.client import web_client
from factory.slack.messages import SlackThread
from factory.slack.trust import UsergroupMembers
from factory.store import RunRecord, RunStore
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_sentry import FakeSentry
from factory.testing.fake_slack import FakeSlack
from factory.testing.sample import BOT, BOT_TOKEN, MAINTAINER, REPO, World, seed_world
from factory.workspace import Mirror, Workspaces

ROOT = Path(__file__).resolve().parents[2]
INSTANCE = "factoryd-test"


@dataclass
class Rig:
    """FakeGitHub with the sample world, a store, the shipped config and recovery's inputs."""

    fake: FakeGitHub
    world: World
    store: RunStore
    config: FactoryConfig
    side: GitHubSide
    env: RunEnv
    tmp: Path
    events: Iterator[int]

    def recover(self, *, github: bool = True) -> list[str]:
        """Run recovery as the daemon's start does; return the interrupted run ids."""
        return recover(self.store, self.side if github else None, INSTANCE, self.config, self.env)

    def run(
        self,
        *,
        subject: str | None = None,
        event: bool = True,
        attempt: int = 1,
        automation: str = "builder",
        status: str = "running",
    ) -> RunRecord:
        """Store a run left ``status`` by a crash (running: this start marks it)."""
        event_id = None
        if event:
            number = int(subject.split(":")[1]) if subject and subject[0] == "i" else None
            event_id, _ = self.store.add_event(
                Event(
                    source="github",
                    kind="issues.labeled",
                    dedup_key=f"recovery-{next(self.events)}",
                    subject=Subject(kind="issue", number=number) if number else None,
                    actor=MAINTAINER,
                    trust="maintainers",
                )
            )
            self.store.mark_event_dispatched(event_id)
        run_id = self.store.create_run(
            automation, event_id=event_id, subject_key=subject, attempt=attempt
        )
        if status != "queued":
            self.store.start_run(run_id, "factoryd-crashed")
            self.store.add_step(run_id, "text", {"text": "working"}, text="working")
        if status == "interrupted":
            self.store.mark_interrupted_running()
        elif status not in ("queued", "running"):
            self.store.finish_run(run_id, status)
        return self.store.get_run(run_id)

    def bug(self) -> str:
        """The subject key of the sample bug issue."""
        return f"issue:{self.world.bug}"

    def bot_comments(self, number: int) -> list[str]:
        """The bodies of the bot's comments on ``number``."""
        return [c.body for c in self.fake.issue(REPO, number).comments if c.user == BOT]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """The sample world on FakeGitHub and everything ``recover`` takes, nothing running."""
    with FakeGitHub() as fake, RunStore.open(tmp_path / "factory.db") as store:
        world = seed_world(fake, label=False)
        config = load_factory(ROOT / "automations", ROOT / "harness")
        side = _side(fake, tmp_path)
        env = RunEnv(
            store=store,
            config=lambda: config,
            model=AnthropicModel("sk-ant-fake-not-a-real-key", "http://127.0.0.1:9"),
            sandbox_for=Sandboxes(),
            data_dir=tmp_path,
            holder=INSTANCE,
            github=side,
        )
        yield Rig(fake, world, store, config, side, env, tmp_path, iter(range(1, 100_000)))


def _side(fake: FakeGitHub, data_dir: Path) -> GitHubSide:
    config = load_factory(ROOT / "automations", ROOT / "harness")
    gh = make_github(
        auth=Auth.Token(BOT_TOKEN), base_url=fake.api_url, pacing=Pacing(seconds_between_writes=0)
    )
    repo = gh.get_repo(REPO)
    return GitHubSide(
        github=gh,
        repo=repo,
        claims=Claims(repo),
        mirror=Mirror(data_dir, REPO, fake.clone_url(REPO)),
        trust=config.policy.trust,
        resolve=PermissionTrust(repo, config.policy.trust),
        bot_login=BOT,
    )


def _attempts(rig: Rig, run: RunRecord) -> list[tuple[int, str]]:
    assert run.event_id is not None
    return [(r.attempt, r.status) for r in rig.store.runs_of_event(run.event_id)]


def _stranded(rig: Rig) -> list[str]:
    """Mark the running runs interrupted as the start does; return the stranded run ids."""
    marked = set(rig.store.mark_interrupted_running())
    return [run.id for run in stranded_runs(rig.store, marked)]


def _release(rig: Rig, run: RunRecord) -> None:
    release_claim(rig.side, INSTANCE, run)


def _reconcile(rig: Rig) -> int:
    return reconcile_outputs(rig.store, rig.side, rig.config, rig.env)


def _events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


# -- which runs are stranded -------------------------------------------------------------


def test_running_run_gets_its_next_attempt_queued(rig: Rig) -> None:
    """A run a crash left running is marked interrupted and its attempt 2 is queued."""
    run = rig.run(subject=rig.bug())
    rig.recover()
    assert _attempts(rig, run) == [(1, "interrupted"), (2, "queued")]


def test_recover_returns_the_interrupted_run_ids(rig: Rig) -> None:
    """recover answers the ids of the runs it found interrupted."""
    run = rig.run(subject=rig.bug())
    assert rig.recover() == [run.id]


def test_eventless_run_marked_now_is_recovered(rig: Rig) -> None:
    """A run without event or subject that this start marked interrupted is recovered.

    (Without a subject there is no claim to release: GitHub at hand changes nothing.)
    """
    run = rig.run(event=False)
    assert rig.recover() == [run.id]


def test_eventless_run_interrupted_earlier_is_left(rig: Rig) -> None:
    """A run without event interrupted before this start (no attempt chain) is left alone."""
    rig.run(event=False, status="interrupted")
    assert _stranded(rig) == []


def test_eventless_leftover_does_not_end_the_scan(rig: Rig) -> None:
    """An older eventless leftover is skipped and the newer interrupted runs still recovered."""
    rig.run(event=False, status="interrupted")
    newer = rig.run(subject=rig.bug(), status="interrupted")
    assert _stranded(rig) == [newer.id]


def test_interrupted_run_interrupted_earlier_is_recovered(rig: Rig) -> None:
    """A run marked interrupted by an earlier start that died before re-queuing is recovered."""
    run = rig.run(subject=rig.bug(), status="interrupted")
    assert _stranded(rig) == [run.id]


def test_run_whose_next_attempt_exists_is_not_recovered_again(rig: Rig) -> None:
    """An interrupted run that already has its next attempt is not stranded."""
    run = rig.run(subject=rig.bug(), status="interrupted")
    rig.store.retry_run(run.id)
    assert _stranded(rig) == []


def test_run_with_a_next_attempt_does_not_end_the_scan(rig: Rig) -> None:
    """An older run whose next attempt exists is passed over; a newer stranded run is found."""
    older = rig.run(subject=rig.bug(), status="interrupted")
    rig.store.retry_run(older.id)
    newer = rig.run(subject=rig.bug(), status="interrupted")
    assert _stranded(rig) == [newer.id]


def test_run_already_given_up_is_not_recovered_again(rig: Rig) -> None:
    """An interrupted run carrying a given_up step is not stranded."""
    run = rig.run(subject=rig.bug(), status="interrupted")
    rig.store.add_step(run.id, GIVEN_UP_STEP, {"notice": "x", "shown_on": None}, text="x")
    assert _stranded(rig) == []


def test_finished_run_is_not_recovered(rig: Rig) -> None:
    """A run that failed (not interrupted) is none of recovery's business."""
    rig.run(subject=rig.bug(), status="failed")
    assert _stranded(rig) == []


def test_more_than_fifty_interrupted_runs_are_all_recovered(rig: Rig) -> None:
    """The scan covers 500 runs, not a page of 50: 60 interrupted runs are all recovered."""
    runs = [rig.run(subject=rig.bug(), status="interrupted") for _ in range(60)]
    assert _stranded(rig) == [run.id for run in runs]


# -- claims ----------------------------------------------------------------------------------


def test_claim_held_by_the_interrupted_run_is_released(rig: Rig) -> None:
    """The claim the crashed run held under this daemon's id is released."""
    run = rig.run(subject=rig.bug())
    assert rig.side.claims.claim(rig.bug(), holder_of(INSTANCE, run), 60) is not None
    rig.recover()
    assert rig.side.claims.current(rig.bug()) is None


def test_claim_of_another_holder_is_kept(rig: Rig) -> None:
    """A claim another daemon holds on the subject is not touched."""
    run = rig.run(subject=rig.bug())
    assert rig.side.claims.claim(rig.bug(), "other-daemon/e1-builder", 60) is not None
    _release(rig, run)
    current = rig.side.claims.current(rig.bug())
    assert current is not None and current[2] is not None
    assert current[2].holder == "other-daemon/e1-builder"


def test_claim_ref_without_a_lease_is_left(rig: Rig) -> None:
    """A claim ref whose commit carries no lease is not released (nobody's claim)."""
    run = rig.run(subject=rig.bug())
    head = rig.side.repo.get_branch("main").commit.sha
    rig.side.repo.create_git_ref(claim_ref(rig.bug()), head)
    _release(rig, run)
    assert rig.side.claims.current(rig.bug()) is not None


def test_claim_release_is_logged(rig: Rig) -> None:
    """Releasing the crashed run's claim logs claim_released with the run and subject."""
    run = rig.run(subject=rig.bug())
    rig.side.claims.claim(rig.bug(), holder_of(INSTANCE, run), 60)
    with capture_logs() as logs:
        _release(rig, run)
    # Claims logs its own claim_released (with the holder); recovery's names the run.
    assert [e for e in _events(logs, "claim_released") if "holder" not in e] == [
        {"event": "claim_released", "log_level": "info", "run_id": run.id, "subject": rig.bug()}
    ]


def test_commit_subject_claim_is_not_looked_up(rig: Rig) -> None:
    """A run on a commit holds no claim: recovery asks GitHub for no claim ref of it."""
    run = rig.run(subject="commit:0123456789abcdef0123456789abcdef01234567")
    _release(rig, run)
    assert [p for _, p, _ in rig.fake.request_log if "claims" in p] == []


# -- outputs left as intents -------------------------------------------------------------------


def _comment_intent(rig: Rig, run: RunRecord, number: int, body: str) -> str:
    """Record the comment intent a crash left for ``run`` on ``number``; return its key."""
    ctx = RunContext(
        run.id, run.automation, rig.config.automations["builder"].outputs, number,
        rig.side.repo, rig.store, key_scope=key_scope(run),
    )  # fmt: skip
    prepared = prepare("comment", CommentRequest(body=body), ctx)
    key = prepared.key(ctx.scope)
    rig.store.record_output_intent(run.id, "comment", key, prepared.to_stored())
    return key


def _create_issue_intent(rig: Rig, run: RunRecord, title: str) -> str:
    payload = {"title": title, "body": "Found while working.", "labels": []}
    key = f"{key_scope(run)}:create_issue:repo:abc"
    rig.store.record_output_intent(
        run.id, "create_issue", key, {"target": None, "payload": payload}
    )
    return key


def test_comment_intent_left_by_a_crash_is_posted_with_its_marker(rig: Rig) -> None:
    """An intent not on GitHub is performed: the comment appears once, with the run's marker."""
    run = rig.run(subject=rig.bug())
    key = _comment_intent(rig, run, rig.world.bug, "Working on it.")
    rig.recover()
    assert rig.bot_comments(rig.world.bug) == [append_marker("Working on it.", run.id, key)]


def test_comment_already_on_github_is_not_posted_again(rig: Rig) -> None:
    """An intent whose marker GitHub already shows is marked applied, not written twice."""
    run = rig.run(subject=rig.bug())
    key = _comment_intent(rig, run, rig.world.bug, "Working on it.")
    rig.fake.comment(REPO, rig.world.bug, append_marker("Working on it.", run.id, key), as_user=BOT)
    _reconcile(rig)
    statuses = [o.status for o in rig.store.outputs_for_run(run.id)]
    assert (len(rig.bot_comments(rig.world.bug)), statuses) == (1, ["applied"])


def test_issue_a_person_opened_with_the_marker_is_not_the_factorys(rig: Rig) -> None:
    """A marker in a maintainer's issue does not count: the bot's own issue is created."""
    run = rig.run(subject=rig.bug())
    key = _create_issue_intent(rig, run, "Follow-up")
    forged = rig.fake.create_issue(
        REPO, "Follow-up", append_marker("Copied.", run.id, key), as_user=MAINTAINER
    )
    _reconcile(rig)
    [output] = rig.store.outputs_for_run(run.id)
    assert output.status == "applied" and output.result["number"] != forged.number


def test_intent_of_a_run_without_subject_is_settled(rig: Rig) -> None:
    """An issue intent of a run about nothing is performed: the bot opens the issue."""
    run = rig.run(event=False)
    _create_issue_intent(rig, run, "Nightly report")
    _reconcile(rig)
    titles = [i.title for i in rig.fake.repo(REPO).issues.values() if i.user == BOT]
    assert titles == ["Nightly report"]


def test_intent_of_a_deleted_automation_is_still_settled(rig: Rig) -> None:
    """An intent of a run whose automation was since removed from the config is performed."""
    run = rig.run(subject=rig.bug(), automation="retired")
    key = _comment_intent(rig, run, rig.world.bug, "Last words.")
    _reconcile(rig)
    assert rig.bot_comments(rig.world.bug) == [append_marker("Last words.", run.id, key)]


def test_open_pull_request_intent_without_workspace_is_refused(rig: Rig) -> None:
    """A pull request intent cannot be redone without the crashed workspace: it is refused."""
    run = rig.run(subject=rig.bug())
    payload = {"title": "Fix add", "body": "Fixes it.", "labels": [], "draft": False}
    rig.store.record_output_intent(
        run.id, "open_pull_request", "k:open", {"target": None, "payload": payload}
    )
    _reconcile(rig)
    [output] = rig.store.outputs_for_run(run.id)
    assert (output.status, output.result) == (
        "refused",
        {
            "reason": "open_pull_request: this run has no workspace to take a change from "
            "(an interrupted run's retry will redo it)"
        },
    )


def test_merge_intent_of_a_merged_pull_request_is_applied(rig: Rig) -> None:
    """A merge intent whose pull request GitHub shows merged is marked applied."""
    main = rig.fake.repo(REPO).git.resolve("refs/heads/main")
    assert main is not None
    rig.fake.repo(REPO).git.create_ref("refs/heads/factory/x", main)
    rig.fake.commit_files(REPO, "factory/x", {"docs/x.md": "x\n"}, "change")
    number = rig.fake.create_pull(REPO, "factory/x", "Change", "Body.", as_user=BOT).number
    rig.side.repo.get_pull(number).merge(merge_method="merge")
    run = rig.run(subject=f"pull_request:{number}", event=False, automation="pr-reviewer")
    rig.store.record_output_intent(
        run.id, "merge_pull_request", "k:merge", {"target": number, "payload": {}}
    )
    _reconcile(rig)
    [output] = rig.store.outputs_for_run(run.id)
    assert (output.status, output.result) == ("applied", {"number": number})


def test_merge_intent_of_an_open_pull_request_is_decided_by_the_policy(rig: Rig) -> None:
    """A merge intent whose pull request is still open goes to the merge policy, which refuses.

    The shipped policy wants checks and an approval this pull request does not have.
    """
    main = rig.fake.repo(REPO).git.resolve("refs/heads/main")
    assert main is not None
    rig.fake.repo(REPO).git.create_ref("refs/heads/factory/y", main)
    rig.fake.commit_files(REPO, "factory/y", {"docs/y.md": "y\n"}, "change")
    number = rig.fake.create_pull(REPO, "factory/y", "Change", "Body.", as_user=BOT).number
    run = rig.run(subject=f"pull_request:{number}", event=False, automation="pr-reviewer")
    rig.store.record_output_intent(
        run.id, "merge_pull_request", "k:merge", {"target": number, "payload": {}}
    )
    _reconcile(rig)
    [output] = rig.store.outputs_for_run(run.id)
    reason = str(output.result.get("reason", ""))
    assert (
        output.status,
        reason.startswith("merge_pull_request: "),
        rig.fake.pull(REPO, number).merged,
    ) == ("refused", True, False)


def _merged_factory_pull(rig: Rig, branch: str) -> int:
    """A docs pull request the factory's bot opened and merged; return its number."""
    main = rig.fake.repo(REPO).git.resolve("refs/heads/main")
    assert main is not None
    rig.fake.repo(REPO).git.create_ref(f"refs/heads/{branch}", main)
    rig.fake.commit_files(REPO, branch, {"docs/z.md": "z\n"}, "change")
    number = rig.fake.create_pull(REPO, branch, "Change", "Body.", as_user=BOT).number
    rig.side.repo.get_pull(number).merge(merge_method="merge")
    return number


def _revert_intent(rig: Rig, number: int) -> RunRecord:
    run = rig.run(subject=f"pull_request:{number}", event=False, automation="pr-reviewer")
    payload = {"pull_number": number, "reason": "Smoke check failed.", "issues": []}
    rig.store.record_output_intent(
        run.id, "revert_pull_request", "k:revert", {"target": number, "payload": payload}
    )
    return run


def test_revert_intent_left_by_a_crash_is_performed_at_recovery(rig: Rig) -> None:
    """A revert intent is settled without a workspace: the daemon opens the revert PR."""
    number = _merged_factory_pull(rig, "factory/z")
    run = _revert_intent(rig, number)
    _reconcile(rig)
    [output] = rig.store.outputs_for_run(run.id)
    reverts = [
        p for p in rig.fake.repo(REPO).pulls.values() if p.head_ref == f"factory/revert-pr-{number}"
    ]
    assert (output.status, output.result["reverts"], len(reverts)) == ("applied", number, 1)


def test_revert_intent_at_recovery_is_labelled_needs_human(rig: Rig) -> None:
    """The revert recovery opens carries the shipped policy's needs-human label."""
    number = _merged_factory_pull(rig, "factory/w")
    run = _revert_intent(rig, number)
    _reconcile(rig)
    [output] = rig.store.outputs_for_run(run.id)
    labels = {label.name for label in rig.side.repo.get_issue(output.result["number"]).labels}
    assert rig.config.policy.labels.needs_human in labels


# -- re-queuing ------------------------------------------------------------------------------


def test_requeue_returns_the_next_attempts_id(rig: Rig) -> None:
    """requeue answers the id of the attempt it queued."""
    run = rig.run(subject=rig.bug(), status="interrupted")
    retry = requeue(rig.store, run)
    assert _attempts(rig, run) == [(1, "interrupted"), (2, "queued")]
    assert retry == rig.store.runs_of_event(run.event_id or 0)[1].id


def test_requeue_is_logged(rig: Rig) -> None:
    """A re-queue logs run_requeued with the run and its retry."""
    run = rig.run(subject=rig.bug(), status="interrupted")
    with capture_logs() as logs:
        retry = requeue(rig.store, run)
    assert _events(logs, "run_requeued") == [
        {"event": "run_requeued", "log_level": "info", "run_id": run.id, "retry": retry}
    ]


def test_run_at_the_attempt_limit_is_not_requeued(rig: Rig) -> None:
    """requeue refuses a run on its last allowed attempt: no attempt is added."""
    run = rig.run(subject=rig.bug(), status="interrupted", attempt=MAX_ATTEMPTS_AFTER_INTERRUPT)
    assert (requeue(rig.store, run), len(rig.store.list_runs())) == (None, 1)


def test_run_at_the_attempt_limit_is_logged_not_requeued(rig: Rig) -> None:
    """The refusal logs run_not_requeued with the run and its attempts."""
    run = rig.run(subject=rig.bug(), status="interrupted", attempt=MAX_ATTEMPTS_AFTER_INTERRUPT)
    with capture_logs() as logs:
        requeue(rig.store, run)
    assert _events(logs, "run_not_requeued") == [
        {
            "event": "run_not_requeued",
            "log_level": "error",
            "run_id": run.id,
            "attempts": MAX_ATTEMPTS_AFTER_INTERRUPT,
        }
    ]


def test_run_the_store_cannot_retry_is_not_requeued(rig: Rig) -> None:
    """A run the store refuses to retry (it has not finished) yields None, not an exception."""
    run = rig.run(subject=rig.bug(), status="queued")
    assert requeue(rig.store, run) is None


def test_store_refusal_to_retry_is_logged(rig: Rig) -> None:
    """The store's refusal is logged as run_requeue_failed with its message."""
    run = rig.run(subject=rig.bug(), status="queued")
    with capture_logs() as logs:
        requeue(rig.store, run)
    assert _events(logs, "run_requeue_failed") == [
        {
            "event": "run_requeue_failed",
            "log_level": "warning",
            "run_id": run.id,
            "error": f"run {run.id!r} is queued; only a finished run is retried",
        }
    ]


# -- giving up -------------------------------------------------------------------------------


def _looped(rig: Rig, subject: str | None = None, *, event: bool = True) -> RunRecord:
    return rig.run(
        subject=subject or rig.bug(),
        event=event,
        attempt=MAX_ATTEMPTS_AFTER_INTERRUPT,
        status="interrupted",
    )


def _given_up_steps(rig: Rig, run: RunRecord) -> list[tuple[Any, str]]:
    return [(s.payload, s.text) for s in rig.store.steps(run.id) if s.kind == GIVEN_UP_STEP]


def test_run_interrupted_the_maximum_times_is_given_up_not_requeued(rig: Rig) -> None:
    """At the attempt limit recovery gives the run up: no further attempt, a given_up step."""
    run = _looped(rig)
    rig.recover()
    assert (len(rig.store.list_runs()), len(_given_up_steps(rig, run))) == (1, 1)


def test_give_up_note_says_why_and_what_to_do(rig: Rig) -> None:
    """The note names the run, its automation, the count and how to re-run it."""
    run = _looped(rig)
    assert give_up_note(run) == (
        f"factoryd gave up on run {run.id} (builder): it was interrupted 5 times in a row (the "
        "daemon died while it ran), so it is not re-queued again. A person should look; "
        "re-run it with `factoryd run` once fixed."
    )


def test_give_up_labels_the_subject_needs_human(rig: Rig) -> None:
    """The given-up run's issue gets the policy's needs-human label."""
    give_up(rig.store, rig.side, rig.config, _looped(rig))
    assert rig.config.policy.labels.needs_human in rig.fake.labels_of(REPO, rig.world.bug)


def test_give_up_keeps_a_needs_human_label_spelled_otherwise(rig: Rig) -> None:
    """A needs-human label already there in other case is not added again (no label event)."""
    label = rig.config.policy.labels.needs_human
    rig.fake.add_labels(REPO, rig.world.bug, label.upper(), as_user=MAINTAINER)
    give_up(rig.store, rig.side, rig.config, _looped(rig))
    assert rig.fake.labels_of(REPO, rig.world.bug) == [label.upper()]


def test_give_up_comments_the_note_with_its_marker(rig: Rig) -> None:
    """The issue gets one bot comment: the note with a marker keyed by scope and attempt."""
    run = _looped(rig)
    give_up(rig.store, rig.side, rig.config, run)
    key = f"{key_scope(run)}:given-up:{MAX_ATTEMPTS_AFTER_INTERRUPT}"
    assert rig.bot_comments(rig.world.bug) == [append_marker(give_up_note(run), run.id, key)]


def test_give_up_after_a_crash_past_the_comment_does_not_comment_again(rig: Rig) -> None:
    """A give-up comment already on the issue (a crash came before the step) is not doubled."""
    run = _looped(rig)
    key = f"{key_scope(run)}:given-up:{MAX_ATTEMPTS_AFTER_INTERRUPT}"
    rig.fake.comment(
        REPO, rig.world.bug, append_marker(give_up_note(run), run.id, key), as_user=BOT
    )
    give_up(rig.store, rig.side, rig.config, run)
    assert len(rig.bot_comments(rig.world.bug)) == 1


def test_give_up_records_the_notice_and_where_it_was_shown(rig: Rig) -> None:
    """The given_up step carries the note and the issue number it was shown on."""
    run = _looped(rig)
    give_up(rig.store, rig.side, rig.config, run)
    note = give_up_note(run)
    assert _given_up_steps(rig, run) == [({"notice": note, "shown_on": rig.world.bug}, note)]


def test_give_up_without_github_records_the_notice_shown_nowhere(rig: Rig) -> None:
    """Without GitHub the give-up is only a step, shown on nothing (None)."""
    run = _looped(rig)
    give_up(rig.store, None, rig.config, run)
    note = give_up_note(run)
    assert _given_up_steps(rig, run) == [({"notice": note, "shown_on": None}, note)]


def test_give_up_of_a_run_without_subject_records_the_notice_shown_nowhere(rig: Rig) -> None:
    """A run about nothing is given up as a step only, with GitHub at hand."""
    run = rig.run(event=False, attempt=MAX_ATTEMPTS_AFTER_INTERRUPT, status="interrupted")
    give_up(rig.store, rig.side, rig.config, run)
    note = give_up_note(run)
    assert _given_up_steps(rig, run) == [({"notice": note, "shown_on": None}, note)]


def test_give_up_twice_records_one_step(rig: Rig) -> None:
    """A second give-up of the same run (a later start) adds nothing."""
    run = _looped(rig)
    give_up(rig.store, rig.side, rig.config, run)
    give_up(rig.store, rig.side, rig.config, run)
    assert len(_given_up_steps(rig, run)) == 1


def test_give_up_is_logged(rig: Rig) -> None:
    """A give-up logs run_given_up with the run, its attempts and subject."""
    run = _looped(rig)
    with capture_logs() as logs:
        give_up(rig.store, rig.side, rig.config, run)
    assert _events(logs, "run_given_up") == [
        {
            "event": "run_given_up",
            "log_level": "error",
            "run_id": run.id,
            "attempts": MAX_ATTEMPTS_AFTER_INTERRUPT,
            "subject": rig.bug(),
        }
    ]


def test_give_up_github_refuses_records_no_step(rig: Rig) -> None:
    """When GitHub cannot show the give-up (no such issue) no step is recorded: next start."""
    run = _looped(rig, "issue:9999")
    give_up(rig.store, rig.side, rig.config, run)
    assert _given_up_steps(rig, run) == []


def test_give_up_github_refuses_is_logged(rig: Rig) -> None:
    """GitHub's refusal is logged as give_up_not_shown with the run and the status."""
    run = _looped(rig, "issue:9999")
    with capture_logs() as logs:
        give_up(rig.store, rig.side, rig.config, run)
    assert _events(logs, "give_up_not_shown") == [
        {"event": "give_up_not_shown", "log_level": "warning", "run_id": run.id, "status": 404}
    ]


# -- workspaces ------------------------------------------------------------------------------


def test_workspace_left_by_a_crash_is_swept(rig: Rig) -> None:
    """A workspace folder no run owns any more (the crash left it) is removed."""
    rig.env.workspaces = Workspaces(rig.tmp, rig.side.mirror)
    left = rig.env.workspaces.path_for("01CRASHEDRUNAAAAAAAAAAAAAA")
    left.mkdir(parents=True)
    rig.recover()
    assert left.exists() is False


# -- crash points ----------------------------------------------------------------------------

CHILD = """
import sys
from pathlib import Path
from factory.testing.fake_github import FakeGitHub
from tests.daemon.test_recovery_mutants import child_recover
child_recover(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
"""


def child_recover(api_url: str, clone_url: str, tmp: Path) -> None:
    """Run recovery over ``tmp``'s store against the fake at ``api_url`` (the child's side)."""
    config = load_factory(ROOT / "automations", ROOT / "harness")
    gh = make_github(
        auth=Auth.Token(BOT_TOKEN), base_url=api_url, pacing=Pacing(seconds_between_writes=0)
    )
    repo = gh.get_repo(REPO)
    side = GitHubSide(
        github=gh,
        repo=repo,
        claims=Claims(repo),
        mirror=Mirror(tmp, REPO, clone_url),
        trust=config.policy.trust,
        resolve=PermissionTrust(repo, config.policy.trust),
        bot_login=BOT,
    )
    with RunStore.open(tmp / "factory.db") as store:
        env = RunEnv(
            store=store,
            config=lambda: config,
            model=AnthropicModel("sk-ant-fake-not-a-real-key", "http://127.0.0.1:9"),
            sandbox_for=Sandboxes(),
            data_dir=tmp,
            holder=INSTANCE,
            github=side,
        )
        recover(store, side, INSTANCE, config, env)


def _crash_at(rig: Rig, point: str) -> tuple[int, str]:
    """Run recovery in a child dying at ``point``; return its exit code and the crash log."""
    crash_log = rig.tmp / "crash.log"
    env = {**os.environ, CRASH_ENV: point, CRASH_LOG_ENV: str(crash_log)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, rig.fake.api_url, rig.fake.clone_url(REPO), str(rig.tmp)],
        env=env,
        cwd=os.getcwd(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    written = crash_log.read_text() if crash_log.exists() else child.stderr[-2000:]
    return child.returncode, written


def test_crash_after_marking_is_recovered_by_the_next_start(rig: Rig) -> None:
    """Killed at recovery_after_interrupt, the next start still queues the next attempt."""
    run = rig.run(subject=rig.bug())
    died = _crash_at(rig, "recovery_after_interrupt")
    rig.recover()
    assert (died, _attempts(rig, run)) == (
        (CRASH_EXIT_CODE, "recovery_after_interrupt\n"),
        [(1, "interrupted"), (2, "queued")],
    )


def test_crash_after_releasing_is_recovered_by_the_next_start(rig: Rig) -> None:
    """Killed at recovery_after_release, the next start still queues the next attempt."""
    run = rig.run(subject=rig.bug())
    died = _crash_at(rig, "recovery_after_release")
    rig.recover()
    assert (died, _attempts(rig, run)) == (
        (CRASH_EXIT_CODE, "recovery_after_release\n"),
        [(1, "interrupted"), (2, "queued")],
    )


def test_crash_after_reconciling_does_not_double_the_output(rig: Rig) -> None:
    """Killed at recovery_after_reconcile, the next start finds the comment: it stays one."""
    run = rig.run(subject=rig.bug())
    _comment_intent(rig, run, rig.world.bug, "Working on it.")
    died = _crash_at(rig, "recovery_after_reconcile")
    rig.recover()
    assert (died, len(rig.bot_comments(rig.world.bug))) == (
        (CRASH_EXIT_CODE, "recovery_after_reconcile\n"),
        1,
    )


def test_crash_after_requeuing_does_not_queue_twice(rig: Rig) -> None:
    """Killed at recovery_after_requeue, the next start queues no second attempt."""
    run = rig.run(subject=rig.bug())
    died = _crash_at(rig, "recovery_after_requeue")
    rig.recover()
    assert (died, _attempts(rig, run)) == (
        (CRASH_EXIT_CODE, "recovery_after_requeue\n"),
        [(1, "interrupted"), (2, "queued")],
    )


def test_crash_after_the_give_up_label_comments_once(rig: Rig) -> None:
    """Killed right after the needs-human label, the next start adds the one comment."""
    _looped(rig)
    died = _crash_at(rig, "recovery_give_up_after_label")
    rig.recover()
    assert (died, len(rig.bot_comments(rig.world.bug))) == (
        (CRASH_EXIT_CODE, "recovery_give_up_after_label\n"),
        1,
    )


def test_crash_after_the_give_up_comment_does_not_comment_again(rig: Rig) -> None:
    """Killed right after the give-up comment, the next start does not post it again."""
    _looped(rig)
    died = _crash_at(rig, "recovery_give_up_after_comment")
    rig.recover()
    assert (died, len(rig.bot_comments(rig.world.bug))) == (
        (CRASH_EXIT_CODE, "recovery_give_up_after_comment\n"),
        1,
    )


def test_nothing_stranded_passes_every_crash_point(rig: Rig) -> None:
    """With nothing to recover, recovery passes none of its crash points."""
    points = ",".join(
        f"recovery_after_{p}" for p in ("interrupt", "release", "reconcile", "requeue")
    )
    assert _crash_at(rig, points)[0] == 0


def test_slack_reply_intent_is_posted_by_the_daemons_slack_client(rig: Rig) -> None:
    """A slack_reply intent left by a crash is posted in its thread with recovery's Slack side."""
    with FakeSlack() as slack:
        slack.add_user("U0ALICE01", "alice", display_name="Alice")
        slack.add_channel("C0BUGS001", "bugs")
        mention = slack.mention("U0ALICE01", "C0BUGS001", "the export button 500s")
        thread = SlackThread("C0BUGS001", str(mention["event"]["ts"]))
        client = web_client(slack.bot_token, slack.api_url)
        runs = SlackRuns(client, None, slack.bot_id, UsergroupMembers(client))
        run = rig.run(subject=f"slack:{thread}", event=False)
        payload = {"channel": thread.channel, "thread_ts": thread.ts, "text": "Filed as #3."}
        prepared = PreparedOutput("slack_reply", None, payload)
        rig.store.record_output_intent(
            run.id, "slack_reply", prepared.key(key_scope(run)), prepared.to_stored()
        )
        reconcile_outputs(rig.store, rig.side, rig.config, replace(rig.env, slack=runs))
        replies = slack.thread(thread.channel, thread.ts)
    assert [m["text"] for m in replies if m.get("bot_id") == slack.bot_id] == ["Filed as #3."]


def test_sentry_comment_intent_is_posted_by_the_daemons_sentry_client(rig: Rig) -> None:
    """A sentry_update intent left by a crash is posted on its Sentry issue at recovery."""
    with FakeSentry() as sentry:
        issue_id = sentry.add_issue()
        client = SentryClient(sentry.api_url, sentry.token, sentry.org)
        run = rig.run(subject=f"sentry:{issue_id}", event=False)
        payload = {"issue_id": issue_id, "action": "comment", "text": "Filed as #3."}
        prepared = PreparedOutput("sentry_update", None, payload)
        rig.store.record_output_intent(
            run.id, "sentry_update", prepared.key(key_scope(run)), prepared.to_stored()
        )
        reconcile_outputs(rig.store, rig.side, rig.config, replace(rig.env, sentry=client))
        comments = sentry.issue_state(issue_id)["comments"]
    assert [strip_markers(text).rstrip() for text in comments] == ["Filed as #3."]


def test_sentry_intent_recovered_without_sentry_is_marked_failed(rig: Rig) -> None:
    """A daemon without a Sentry client marks a left sentry_update failed (it does not crash)."""
    run = rig.run(subject="sentry:4711", event=False)
    payload = {"issue_id": "4711", "action": "comment", "text": "Filed as #3."}
    prepared = PreparedOutput("sentry_update", None, payload)
    rig.store.record_output_intent(
        run.id, "sentry_update", prepared.key(key_scope(run)), prepared.to_stored()
    )
    _reconcile(rig)
    assert [row.status for row in rig.store.outputs_for_run(run.id)] == ["failed"]


def _slack_runs(slack: FakeSlack) -> SlackRuns:
    """The daemon's Slack side on ``slack``, as wiring builds it."""
    client = web_client(slack.bot_token, slack.api_url)
    return SlackRuns(client, None, slack.bot_id, UsergroupMembers(client))


def test_issue_intent_of_a_thread_run_is_linked_from_its_thread(rig: Rig) -> None:
    """An issue a thread's run created before a crash is linked from the thread on recovery."""
    thread = SlackThread("C0BUGS001", "1700000000.000100")
    with FakeSlack() as slack:
        run = rig.run(subject=f"slack:{thread}", event=False)
        _create_issue_intent(rig, run, "Export 500s")
        reconcile_outputs(
            rig.store, rig.side, rig.config, replace(rig.env, slack=_slack_runs(slack))
        )
    [issue] = [n for n, i in rig.fake.repo(REPO).issues.items() if i.title == "Export 500s"]
    links = rig.store.links_from(f"slack:{thread}")
    assert [link.to_key for link in links] == [f"issue:{issue}"]


def test_intent_of_an_issue_run_is_settled_with_slack_wired(rig: Rig) -> None:
    """With Slack wired, a comment intent of a run about an issue is still posted."""
    run = rig.run(subject=rig.bug())
    key = _comment_intent(rig, run, rig.world.bug, "Still here.")
    with FakeSlack() as slack:
        reconcile_outputs(
            rig.store, rig.side, rig.config, replace(rig.env, slack=_slack_runs(slack))
        )
    assert rig.bot_comments(rig.world.bug) == [append_marker("Still here.", run.id, key)]


# -- settling against the factory's own config repository, and staged give-ups -----------------


def _green_approved_docs_pr(rig: Rig, branch: str) -> int:
    """A bot PR of one docs file, green and approved by the maintainer."""
    main = rig.fake.repo(REPO).git.resolve("refs/heads/main")
    assert main is not None
    rig.fake.repo(REPO).git.create_ref(f"refs/heads/{branch}", main)
    head = rig.fake.commit_files(REPO, branch, {"docs/z.md": "z\n"}, "change")
    number = rig.fake.create_pull(REPO, branch, "Change", "Body.", as_user=BOT).number
    rig.fake.add_check_run(REPO, head, "tests", "success", as_user=MAINTAINER)
    rig.fake.review(REPO, number, "APPROVE", as_user=MAINTAINER)
    return number


def test_merge_intent_on_the_config_repository_is_refused_at_recovery(rig: Rig) -> None:
    """When the daemon's config repository is this repository, a recovered merge is refused."""
    root = rig.tmp / "config-root"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(
        ["git", "-C", str(root), "remote", "add", "origin", rig.fake.clone_url(REPO)], check=True
    )
    rig.env = replace(rig.env, config_root=root)
    number = _green_approved_docs_pr(rig, "factory/z")
    run = rig.run(subject=f"pull_request:{number}", event=False, automation="pr-reviewer")
    rig.store.record_output_intent(
        run.id, "merge_pull_request", "k:merge", {"target": number, "payload": {}}
    )
    _reconcile(rig)
    [output] = rig.store.outputs_for_run(run.id)
    assert (
        output.status,
        "config repository" in str(output.result),
        rig.fake.pull(REPO, number).merged,
    ) == ("refused", True, False)


def test_merge_intent_elsewhere_is_merged_at_recovery(rig: Rig) -> None:
    """The same green, approved docs PR merges at recovery when no config repository is set."""
    number = _green_approved_docs_pr(rig, "factory/w")
    run = rig.run(subject=f"pull_request:{number}", event=False, automation="pr-reviewer")
    rig.store.record_output_intent(
        run.id, "merge_pull_request", "k:merge", {"target": number, "payload": {}}
    )
    _reconcile(rig)
    [output] = rig.store.outputs_for_run(run.id)
    assert (output.status, rig.fake.pull(REPO, number).merged) == ("applied", True)


def _staged_config(rig: Rig) -> FactoryConfig:
    """The shipped config with the builder staged."""
    automations = dict(rig.config.automations)
    automations["builder"] = automations["builder"].model_copy(update={"staged": True})
    return replace(rig.config, automations=automations)


def test_give_up_of_a_staged_automations_run_writes_nothing_to_github(rig: Rig) -> None:
    """A fully staged automation's given-up run gets its step, shown nowhere, no label, no note."""
    run = rig.run(subject=rig.bug(), attempt=MAX_ATTEMPTS_AFTER_INTERRUPT, status="interrupted")
    give_up(rig.store, rig.side, _staged_config(rig), run)
    [step] = [s for s in rig.store.steps(run.id) if s.kind == GIVEN_UP_STEP]
    assert (
        step.payload["shown_on"],
        rig.fake.labels_of(REPO, rig.world.bug),
        rig.bot_comments(rig.world.bug),
    ) == (None, [], [])


def test_give_up_of_a_live_automations_run_is_shown_on_its_subject(rig: Rig) -> None:
    """The same give-up for the live builder is shown on the issue (the staged test's twin)."""
    run = rig.run(subject=rig.bug(), attempt=MAX_ATTEMPTS_AFTER_INTERRUPT, status="interrupted")
    give_up(rig.store, rig.side, rig.config, run)
    [step] = [s for s in rig.store.steps(run.id) if s.kind == GIVEN_UP_STEP]
    assert (step.payload["shown_on"], rig.fake.labels_of(REPO, rig.world.bug)) == (
        rig.world.bug,
        ["needs-human"],
    )
