"""The factory end to end (issue #13, point 7): one scripted world against the daemon process.

A vague issue is refined by the planner, approved by the maintainer, built, reviewed; CI
fails once and the shepherd pushes the fix; CI passes, the maintainer approves and the
shepherd's ``merge_pull_request`` passes the merge gate; the verifier passes. A second change
merges the same way, fails the smoke check and is reverted. A bug report is reproduced and
fixed by the bug fixer. Played once for the module (``factory.commands.demo_full``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from factory.commands.demo_full import FullWorld, full_world
from factory.store import RunRecord, RunStore
from factory.testing.sample import BOT, MAINTAINER, READY, REPO
from factory.testing.sample_loop import DIV_TEST, PUSH_MESSAGE
from factory.testing.sample_planner import PLANNED, PRIORITY, REFINEMENT
from tests.daemon.conftest import ROOT


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullWorld]:
    """Play the whole loop once."""
    with full_world(tmp_path_factory.mktemp("loop"), source=ROOT, timeout_s=60) as played:
        yield played


def _runs(world: FullWorld) -> list[RunRecord]:
    with RunStore.open(world.db_path, readonly=True) as store:
        return list(reversed(store.list_runs(limit=1000)))


def _comments(world: FullWorld, number: int) -> list[str]:
    return [c.body for c in world.github.issue(REPO, number).comments]


def _reviews(world: FullWorld, number: int) -> list[tuple[str, str]]:
    pull = world.github.pull(REPO, number)
    return [(r.user, r.state) for r in pull.reviews]


def _events(world: FullWorld, key: str, kind: str) -> list[tuple[str, object]]:
    with RunStore.open(world.db_path, readonly=True) as store:
        found = store.subject_events(key, [kind])
    return [(r.event.actor, (r.event.payload.get("label") or {}).get("name")) for r in found]


def test_vague_issue_gets_one_refinement_and_the_maintainers_approval(world: FullWorld) -> None:
    """The planner's one plan comment and labels; factory:ready came from the maintainer."""
    issue = world.github.issue(REPO, world.vague)
    readied = [a for a, name in _events(world, f"issue:{world.vague}", "issues.labeled")]
    labelled = [n for _a, n in _events(world, f"issue:{world.vague}", "issues.labeled")]
    assert (
        [REFINEMENT in c for c in _comments(world, world.vague)],
        sorted(labelled),
        readied[labelled.index(READY)],
        issue.state,
    ) == ([True], sorted([PLANNED, PRIORITY, READY]), MAINTAINER, "closed")


def test_built_pull_request_carries_the_shepherds_push_and_was_merged_by_the_factory(
    world: FullWorld,
) -> None:
    """The shepherd's one commit is on the merged PR; the factory (the merge gate) merged it."""
    pull = world.github.pull(REPO, world.built)
    git = world.github.repo(REPO).git
    subjects = git.git("log", "--format=%s", f"main..{pull.head_sha}").splitlines()
    assert (pull.merged, pull.merged_by, subjects) == (
        True,
        BOT,
        [PUSH_MESSAGE, "Fix mean() dividing by zero on an empty list"],
    )


def test_each_pull_request_gets_one_factory_review_and_the_maintainers_approval(
    world: FullWorld,
) -> None:
    """One fresh factory COMMENT review per PR; the merged ones carry mara's approval."""
    reviews = {n: _reviews(world, n) for n in (world.built, world.broken, world.bug_fix)}
    assert reviews == {
        world.built: [(BOT, "COMMENTED"), (MAINTAINER, "APPROVED")],
        world.broken: [(BOT, "COMMENTED"), (MAINTAINER, "APPROVED")],
        world.bug_fix: [(BOT, "COMMENTED")],
    }


def test_broken_change_is_merged_then_reverted_by_an_open_linked_revert(world: FullWorld) -> None:
    """The second change merged; the revert PR is open, unmerged, and links both."""
    revert = world.github.pull(REPO, world.revert)
    body = world.github.issue(REPO, world.revert).body or ""
    with RunStore.open(world.db_path, readonly=True) as store:
        links = sorted(
            (k.from_key, k.to_key) for k in store.links_to(f"pull_request:{world.revert}")
        )
    assert (
        world.github.pull(REPO, world.broken).merged,
        revert.head_ref,
        revert.merged,
        world.github.issue(REPO, world.revert).state,
        f"#{world.broken}" in body,
        links,
    ) == (
        True,
        f"factory/revert-pr-{world.broken}",
        False,
        "open",
        True,
        [
            (f"issue:{world.smoke_issue}", f"pull_request:{world.revert}"),
            (f"pull_request:{world.broken}", f"pull_request:{world.revert}"),
        ],
    )


def test_bug_is_reproduced_by_a_committed_failing_test_then_fixed(world: FullWorld) -> None:
    """The bug fixer's PR holds the new test and the fix, and was checked red then green."""
    pull = world.github.pull(REPO, world.bug_fix)
    git = world.github.repo(REPO).git
    tests = git.git("show", f"{pull.head_sha}:test_calc.py")
    calc = git.git("show", f"{pull.head_sha}:calc.py")
    body = world.github.issue(REPO, world.bug_fix).body or ""
    assert (
        DIV_TEST.splitlines()[0] in tests,
        "return a / b if b else None" in calc,
        "Reproduction checked by factoryd" in body,
    ) == (True, True, True)


def test_no_write_is_duplicated(world: FullWorld) -> None:
    """Each factory comment, review, pull request and issue exists once."""
    repo = world.github.repo(REPO)
    comments = Counter(
        (i.number, c.body) for i in repo.issues.values() for c in i.comments if c.user == BOT
    )
    reviews = Counter(
        (p.number, r.commit_id) for p in repo.pulls.values() for r in p.reviews if r.user == BOT
    )
    heads = Counter(p.head_ref for p in repo.pulls.values())
    filed = Counter(i.title for i in repo.issues.values() if i.user == BOT and not i.is_pr)
    assert [c for c in (comments, reviews, heads, filed) if max(c.values()) > 1] == []


def test_run_chain_each_run_caused_by_the_previous_write(world: FullWorld) -> None:
    """Every acting run, its trigger event and who caused it, in order."""
    with RunStore.open(world.db_path, readonly=True) as store:
        chain = []
        for run in _runs(world):
            if run.status != "succeeded" or run.automation == "triage":
                continue
            event = store.get_event(run.event_id).event if run.event_id else None
            assert event is not None
            chain.append((run.automation, run.subject_key, event.kind, event.actor))
    b, v, s, k = world.built, world.vague, world.speedup, world.broken
    assert chain == [
        ("planner", f"issue:{v}", "issues.opened", MAINTAINER),
        ("builder", f"issue:{v}", "issues.labeled", MAINTAINER),
        ("pr-reviewer", f"pull_request:{b}", "pull_request.opened", BOT),
        ("pr-shepherd", f"pull_request:{b}", "check_suite.completed", BOT),
        ("pr-shepherd", f"pull_request:{b}", "pull_request_review.submitted", MAINTAINER),
        ("post-merge-verifier", f"pull_request:{b}", "push", BOT),
        ("planner", f"issue:{s}", "issues.opened", MAINTAINER),
        ("builder", f"issue:{s}", "issues.labeled", MAINTAINER),
        ("pr-reviewer", f"pull_request:{k}", "pull_request.opened", BOT),
        ("pr-shepherd", f"pull_request:{k}", "pull_request_review.submitted", MAINTAINER),
        ("post-merge-verifier", f"pull_request:{k}", "push", BOT),
        ("pr-reviewer", f"pull_request:{world.revert}", "pull_request.opened", BOT),
        ("planner", f"issue:{world.bug}", "issues.opened", MAINTAINER),
        ("bug-fixer", f"issue:{world.bug}", "issues.labeled", MAINTAINER),
        ("pr-reviewer", f"pull_request:{world.bug_fix}", "pull_request.opened", BOT),
    ]


def test_each_factory_caused_run_follows_the_write_of_the_run_before(world: FullWorld) -> None:
    """A run triggered by the factory's own event is about what an earlier run wrote: the PR
    the builder or bug fixer opened, or the one the shepherd merged."""
    with RunStore.open(world.db_path, readonly=True) as store:
        runs = _runs(world)
        written: set[str] = set()
        orphans = []
        for run in runs:
            event = store.get_event(run.event_id).event if run.event_id else None
            caused = event is not None and event.by_factory and run.status == "succeeded"
            if caused and run.subject_key not in written:
                orphans.append((run.automation, run.subject_key))
            for output in store.outputs_for_run(run.id):
                result = output.result if isinstance(output.result, dict) else {}
                if output.status == "applied" and "number" in result:
                    written.add(f"pull_request:{result['number']}")
    assert orphans == []
