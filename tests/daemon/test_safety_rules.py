"""Safety rules that nothing else pins down: each test fails when its rule is taken out.

Claim lost → the run stops; approval needs the label still on the subject; a collaborator is
refused by a maintainers-only automation; SIGTERM re-queues what it interrupted; a broken
``policy.yaml`` keeps the last good policy.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from factory.config.loader import load_factory
from factory.config.reload import ConfigWatcher
from factory.daemon.dispatch import Dispatcher
from factory.daemon.wiring import github_side
from factory.events import Event, Subject
from factory.forge.claims import Claims, claim_ref
from factory.forge.subjects import approval_problem, snapshot
from factory.store import RunRecord, RunStore
from factory.testing.fake_anthropic import FakeReply
from factory.testing.sample import MAINTAINER, READY, REPO
from tests.daemon.conftest import ROOT, Factory, run_daemon, wait_for

MAINTAINERS_ONLY = """\
name: builder
on:
  - github: {event: issues.labeled, label: "factory:ready"}
subject: issue
trust: maintainers
prompt: Build {{ subject.title }}.
"""


def _looping_builder(body: dict[str, Any]) -> FakeReply:
    """A model that runs one short command per turn, forever (until the run is stopped)."""
    turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
    return FakeReply(
        [
            {
                "type": "tool_use",
                "id": f"toolu_{turn}",
                "name": "bash",
                "input": {"command": f"sleep 0.5 # turn {turn}"},
            }
        ]
    )


def _only_builder(factory: Factory) -> None:
    for other in factory.settings.automations_dir.glob("*.yaml"):
        if other.name != "builder.yaml":
            other.unlink()


def _running_builder(factory: Factory) -> RunRecord:
    def find() -> RunRecord | None:
        runs = [r for r in factory.runs("builder") if r.status == "running"]
        return runs[0] if runs else None

    found: RunRecord = wait_for(find, what="a running builder run")
    return found


def test_collaborator_is_refused_by_a_maintainers_only_automation(tmp_path: Path) -> None:
    """A ready label from a collaborator makes a skipped run: collaborators < maintainers."""
    folder = tmp_path / "automations"
    folder.mkdir()
    (folder / "builder.yaml").write_text(MAINTAINERS_ONLY)
    config = load_factory(folder, Path(shutil.copytree(ROOT / "harness", tmp_path / "harness")))
    with RunStore.open(tmp_path / "f.db") as store:
        store.add_event(
            Event(
                source="github",
                kind="issues.labeled",
                dedup_key="labeled-1",
                subject=Subject(kind="issue", number=1),
                actor="carol",
                trust="collaborators",
                payload={"label": {"name": READY}},
            )
        )
        [decision] = Dispatcher(store, lambda: config, global_concurrency=1).dispatch_pending()
        run = store.get_run(decision.run_id or "")
    assert (run.status, run.stop_reason) == (
        "skipped",
        "trust: carol is trusted as 'collaborators', automation builder needs 'maintainers'",
    )


def test_approval_fails_when_the_label_was_removed(factory: Factory) -> None:
    """A label a maintainer applied and then removed no longer approves the subject."""
    number = factory.world.bug
    factory.github.add_labels(REPO, number, READY, as_user=MAINTAINER)
    factory.github.remove_label(REPO, number, READY, as_user=MAINTAINER)
    watcher = ConfigWatcher(factory.settings.automations_dir, factory.settings.harness_dir)
    gh = github_side(factory.settings, watcher.config.policy, factory.tmp / "side")
    snap = snapshot(gh.repo, f"issue:{number}", gh.trust)
    problem = approval_problem(gh.repo, snap, [READY], "maintainers", gh.resolve)
    assert problem == f"approval: label '{READY}' is no longer on #{number}"


def test_broken_policy_edit_keeps_the_last_good_policy(tmp_path: Path) -> None:
    """An invalid policy.yaml is not swapped in: the watcher keeps the policy it had."""
    automations = Path(shutil.copytree(ROOT / "automations", tmp_path / "automations"))
    harness = Path(shutil.copytree(ROOT / "harness", tmp_path / "harness"))
    watcher = ConfigWatcher(automations, harness)
    before = watcher.config.policy
    policy = harness / "policy.yaml"
    policy.write_text(policy.read_text() + "\nprotected_paths: {this is: [not valid\n")
    swapped = watcher.check()
    assert (swapped, watcher.config.policy is before, watcher.last_errors != []) == (
        False,
        True,
        True,
    )


def test_run_that_loses_its_claim_is_cancelled(factory: Factory) -> None:
    """When another holder takes the subject's claim, the run stops as failed: claim lost."""
    factory.anthropic.responder = _looping_builder
    _only_builder(factory)
    running = run_daemon(factory, claim_lease_s=1.5)
    try:
        factory.github.add_labels(REPO, factory.world.bug, READY, as_user=MAINTAINER)
        run = _running_builder(factory)
        assert running.daemon.github is not None
        repo = running.daemon.github.repo
        subject = f"issue:{factory.world.bug}"
        wait_for(lambda: Claims(repo).current(subject), what="the run's claim")
        # Another daemon deletes the claim and takes it: our next renewal finds it gone.
        repo.get_git_ref(claim_ref(subject).removeprefix("refs/")).delete()
        assert Claims(repo).claim(subject, "thief", 600) is not None
        with factory.store() as store:
            done = wait_for(
                lambda: store.get_run(run.id).finished and store.get_run(run.id),
                timeout_s=30,
                what="the run to stop",
            )
    finally:
        running.stop()
    assert (done.status, done.stop_reason) == ("failed", "claim lost to another holder")


def test_sigterm_requeues_the_runs_it_interrupted(factory: Factory) -> None:
    """Shutdown marks the run in flight interrupted and queues its next attempt."""
    factory.anthropic.responder = _looping_builder
    _only_builder(factory)
    running = run_daemon(factory)
    try:
        factory.github.add_labels(REPO, factory.world.bug, READY, as_user=MAINTAINER)
        run = _running_builder(factory)
    finally:
        running.stop()
    attempts = sorted((r.attempt, r.status) for r in factory.runs("builder"))
    assert (run.attempt, attempts) == (1, [(1, "interrupted"), (2, "queued")])
