"""The planner in the whole daemon (webhooks, the scripted planner, bwrap): a vague issue
gets one refinement comment and its priority label; it is approved (factory:ready) only when
the policy lets the planner approve — never by default, although a maintainer opened it."""

from __future__ import annotations

from datetime import UTC, datetime

from github import Auth, Github

from factory.sources.schedule import tick_events
from factory.testing.sample import MAINTAINER, MAINTAINER_TOKEN, OUTSIDER, READY, REPO
from factory.testing.sample_planner import PARTS, PLANNED, PRIORITY, REFINEMENT, ScriptedPlanner
from tests.daemon.conftest import Factory, run_daemon, wait_for


def _plan(factory: Factory, author: str = MAINTAINER) -> tuple[list[str], list[str], str]:
    """Open a vague issue as ``author``; return its comments, labels, the run's status."""
    factory.anthropic.responder = ScriptedPlanner()
    running = run_daemon(factory)
    try:
        number = factory.github.create_issue(
            REPO, "mean is broken", "It crashes sometimes.", as_user=author
        ).number
        runs = wait_for(
            lambda: [
                r
                for r in factory.runs("planner")
                if r.subject_key == f"issue:{number}" and r.finished
            ],
            what="the planner run",
        )
    finally:
        running.stop()
    issue = factory.github.issue(REPO, number)
    return [c.body for c in issue.comments], sorted(issue.labels), runs[0].status


def test_vague_issue_gets_the_refinement_and_priority_but_no_approval(factory: Factory) -> None:
    """By default: one comment with the plan, the priority and planned labels, no ready."""
    comments, labels, status = _plan(factory)
    assert (
        [REFINEMENT in c for c in comments],
        labels,
        status,
    ) == ([True], [PLANNED, PRIORITY], "succeeded")


def test_planner_approves_when_the_policy_lets_it(factory: Factory) -> None:
    """With ``planner: {approve: true}`` the planner's ready label is applied, even on an
    outsider's issue (the policy's explicit choice)."""
    policy = factory.settings.harness_dir / "policy.yaml"
    text = policy.read_text()
    policy.write_text(text.replace("planner:\n  approve: false", "planner:\n  approve: true"))
    _, labels, _ = _plan(factory, OUTSIDER)
    assert labels == [PLANNED, READY, PRIORITY]


def test_large_issue_is_split_into_linked_sub_issues(factory: Factory) -> None:
    """The parts the planner files are GitHub sub-issues of the issue (``GET …/sub_issues``)."""
    factory.anthropic.responder = ScriptedPlanner(split=True)
    running = run_daemon(factory)
    try:
        number = factory.github.create_issue(
            REPO, "mean and docs", "Fix mean, document it.", as_user=MAINTAINER
        ).number
        wait_for(
            lambda: [r for r in factory.runs("planner") if r.finished],
            what="the planner run",
        )
    finally:
        running.stop()
    repo = Github(base_url=factory.github.api_url, auth=Auth.Token(MAINTAINER_TOKEN)).get_repo(REPO)
    subs = repo.get_issue(number).get_sub_issues()
    assert sorted(s.title for s in subs) == sorted(PARTS)


QUALITY = """# Quality

| area | grade | evidence |
|---|---|---|
| storage | C | flaky writes |
| parsing | B | fine |
| ui | A | |
"""


def _sweeps(factory: Factory, count: int) -> list[list[str]]:
    """On an empty backlog, run ``count`` planner sweeps (a minute apart); return the titles
    of the open issues after each."""
    for number, issue in factory.github.repo(REPO).issues.items():
        if issue.state == "open" and not issue.is_pr:
            factory.github.add_labels(REPO, number, PLANNED, as_user=MAINTAINER)
    (factory.settings.harness_dir / "quality.md").write_text(QUALITY)
    factory.anthropic.responder = ScriptedPlanner()
    running = run_daemon(factory, webhooks=False)
    seen: list[list[str]] = []
    try:
        planner = running.daemon.watcher.config.automations["planner"]
        sweep = next(i for i, t in enumerate(planner.on) if t.schedule is not None)
        schedules = running.daemon.schedules
        for n in range(count):
            at = datetime(2030, 1, 1, 12, n, tzinfo=UTC)
            for event in tick_events(planner, sweep, at, schedules.find):
                schedules.store.add_event(event)
            schedules.on_stored()
            wait_for(
                lambda n=n: len(r := factory.runs("planner")) == n + 1 and r[-1].finished,
                what="the sweep's run",
            )
            repo = factory.github.repo(REPO)
            titles = [i.title for i in repo.issues.values() if i.state == "open" and not i.is_pr]
            seen.append(sorted(t for t in titles if t.startswith("Quality:")))
    finally:
        running.stop()
    return seen


def test_empty_backlog_files_one_issue_per_area_below_b(factory: Factory) -> None:
    """A sweep that finds nothing to plan files an issue for the C area, none for B or A."""
    assert _sweeps(factory, 1) == [["Quality: storage"]]


def test_second_empty_sweep_files_nothing_new(factory: Factory) -> None:
    """The next sweep finds the area's open issue by its dedupe key and files nothing."""
    assert _sweeps(factory, 2) == [["Quality: storage"], ["Quality: storage"]]
