"""Recovery at start: stranded interrupted runs are re-queued; a crash loop is given up visibly."""

from __future__ import annotations

from factory.daemon.recovery import MAX_ATTEMPTS_AFTER_INTERRUPT
from factory.events import Event, Subject
from factory.store import RunStore
from factory.testing.sample import BOT, MAINTAINER, READY, REPO
from tests.daemon.conftest import Factory


def _interrupted(factory: Factory, attempts: int) -> str:
    """Store a builder run on the bug interrupted ``attempts`` times, its last retry not queued.

    That is what crashes leave when the last one hits between marking the run interrupted
    and re-queuing it (or when the crash-loop guard stopped re-queuing it).
    """
    with RunStore.open(factory.settings.db_path) as store:
        event_id, _ = store.add_event(
            Event(
                source="github",
                kind="issues.labeled",
                dedup_key="test-recovery-label",
                subject=Subject(kind="issue", number=factory.world.bug),
                actor=MAINTAINER,
                trust="maintainers",
                payload={"label": {"name": READY}},
            )
        )
        store.mark_event_dispatched(event_id)
        run_id = store.create_run("builder", event_id=event_id, subject_key=_bug(factory))
        for attempt in range(1, attempts + 1):
            store.start_run(run_id, "factoryd-crashed")
            store.mark_interrupted_running()
            if attempt < attempts:
                run_id = store.retry_run(run_id)
    return run_id


def _bug(factory: Factory) -> str:
    return f"issue:{factory.world.bug}"


def _start_and_stop(factory: Factory) -> None:
    daemon = factory.daemon(background=False)
    daemon.start()
    daemon.shutdown()


def _give_up_comments(factory: Factory) -> int:
    comments = factory.github.issue(REPO, factory.world.bug).comments
    return sum(c.user == BOT and "factoryd gave up on run" in c.body for c in comments)


def test_interrupted_run_left_without_retry_is_requeued(factory: Factory) -> None:
    """A run a crash marked interrupted but did not re-queue gets its next attempt queued."""
    _interrupted(factory, 1)
    _start_and_stop(factory)
    runs = [r for r in factory.runs("builder") if r.subject_key == _bug(factory)]
    assert [(r.attempt, r.status) for r in runs] == [(2, "queued"), (1, "interrupted")]


def test_crash_looped_run_is_labeled_needs_human_and_commented(factory: Factory) -> None:
    """A run interrupted the maximum times gets needs-human and one comment saying why."""
    _interrupted(factory, MAX_ATTEMPTS_AFTER_INTERRUPT)
    _start_and_stop(factory)
    labels = factory.github.labels_of(REPO, factory.world.bug)
    assert ("needs-human" in labels, _give_up_comments(factory)) == (True, 1)


def test_give_up_is_not_repeated_by_later_starts(factory: Factory) -> None:
    """Starting again after a give-up writes no second comment and no second label."""
    _interrupted(factory, MAX_ATTEMPTS_AFTER_INTERRUPT)
    _start_and_stop(factory)
    _start_and_stop(factory)
    labeled = [
        e
        for e in factory.github.repo(REPO).events
        if e.event == "labeled" and e.label is not None and e.label.name == "needs-human"
    ]
    assert (len(labeled), _give_up_comments(factory)) == (1, 1)


def test_crash_looped_run_is_not_requeued(factory: Factory) -> None:
    """The crash-loop guard queues no further attempt of a run it gave up."""
    _interrupted(factory, MAX_ATTEMPTS_AFTER_INTERRUPT)
    _start_and_stop(factory)
    runs = [r for r in factory.runs("builder") if r.subject_key == _bug(factory)]
    assert [r.status for r in runs] == ["interrupted"] * MAX_ATTEMPTS_AFTER_INTERRUPT
