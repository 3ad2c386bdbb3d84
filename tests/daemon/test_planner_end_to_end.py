"""The planner in the whole daemon (webhooks, the scripted planner, bwrap): a vague issue
gets one refinement comment and its priority label; it is approved (factory:ready) only when
the policy lets the planner approve — never by default, although a maintainer opened it."""

from __future__ import annotations

from factory.testing.sample import MAINTAINER, OUTSIDER, READY, REPO
from factory.testing.sample_planner import PLANNED, PRIORITY, REFINEMENT, ScriptedPlanner
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
