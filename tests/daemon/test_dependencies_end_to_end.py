"""Dependencies between issues, in the whole daemon (webhooks, the scripted builder, bwrap):
issue B "Depends on #A" is not built while A is open, and is built as soon as A closes — not
at the builder's sweep (every 30 minutes); a cycle is reported on each issue once, across a
daemon restart."""

from __future__ import annotations

from factory.store import RunRecord
from factory.testing.sample import MAINTAINER, READY, REPO
from tests.daemon.conftest import Factory, run_daemon, wait_for

CYCLE_MARKER = "dependency-cycle:"


def _builder_runs(factory: Factory, number: int) -> list[RunRecord]:
    return [r for r in factory.runs("builder") if r.subject_key == f"issue:{number}"]


def _pulls_closing(factory: Factory, number: int) -> list[int]:
    repo = factory.github.repo(REPO)
    return [
        n
        for n, pr in repo.pulls.items()
        if f"Closes #{number}" in (repo.issues[n].body or "") and pr.number == n
    ]


def _seed_pair(factory: Factory) -> tuple[int, int]:
    gh = factory.github
    a = gh.create_issue(
        REPO, "mean() fails on an empty list", "`calc.mean([])` raises.", as_user=MAINTAINER
    ).number
    b = gh.create_issue(
        REPO,
        "add() returns the difference",
        f"`calc.add(2, 3)` returns -1.\n\nDepends on #{a}",
        as_user=MAINTAINER,
    ).number
    return a, b


def test_blocked_issue_is_built_once_its_blocker_closes(factory: Factory) -> None:
    """B waits (skipped, with the reason) while A is open and A is built; closing A builds B
    at once, well before the sweep."""
    a, b = _seed_pair(factory)
    running = run_daemon(factory)
    try:
        factory.github.add_labels(REPO, a, READY, as_user=MAINTAINER)
        factory.github.add_labels(REPO, b, READY, as_user=MAINTAINER)
        wait_for(
            lambda: any(r.status == "succeeded" for r in _builder_runs(factory, a)),
            what="A's builder run",
        )
        wait_for(lambda: _builder_runs(factory, b), what="B's held run")
        held = [(r.status, r.stop_reason) for r in _builder_runs(factory, b)]
        assert (held, _pulls_closing(factory, b)) == (
            [("skipped", f"blocked: waits for open #{a}")],
            [],
        )
        factory.github.close_issue(REPO, a, as_user=MAINTAINER)
        wait_for(
            lambda: any(r.status == "succeeded" for r in _builder_runs(factory, b)),
            timeout_s=60,
            what="B's builder run after A closed",
        )
    finally:
        running.stop()
    assert len(_pulls_closing(factory, b)) == 1


def _cycle_comments(factory: Factory, number: int) -> int:
    issue = factory.github.issue(REPO, number)
    return sum(1 for c in issue.comments if CYCLE_MARKER in c.body)


def test_cycle_is_reported_once_across_a_restart(factory: Factory) -> None:
    """C depends on D depends on C: both runs are skipped and each issue gets one cycle
    comment, still one after a restart and a second approval."""
    gh = factory.github
    c = gh.create_issue(REPO, "Part one", "Needs part two first.", as_user=MAINTAINER).number
    d = gh.create_issue(REPO, "Part two", f"Depends on #{c}", as_user=MAINTAINER).number
    with gh.hub.lock:
        gh.hub.update_issue(gh.repo(REPO), c, MAINTAINER, {"body": f"Blocked by #{d}"})
    running = run_daemon(factory)
    try:
        gh.add_labels(REPO, c, READY, as_user=MAINTAINER)
        gh.add_labels(REPO, d, READY, as_user=MAINTAINER)
        wait_for(
            lambda: _builder_runs(factory, c) and _builder_runs(factory, d),
            what="both held runs",
        )
    finally:
        running.stop()
    first = (_cycle_comments(factory, c), _cycle_comments(factory, d))
    running = run_daemon(factory)
    try:
        gh.remove_label(REPO, c, READY, as_user=MAINTAINER)
        gh.add_labels(REPO, c, READY, as_user=MAINTAINER)
        wait_for(lambda: len(_builder_runs(factory, c)) >= 2, what="C's second held run")
    finally:
        running.stop()
    statuses = {r.status for r in _builder_runs(factory, c) + _builder_runs(factory, d)}
    after = (_cycle_comments(factory, c), _cycle_comments(factory, d))
    assert (first, after, statuses) == ((1, 1), (1, 1), {"skipped"})
