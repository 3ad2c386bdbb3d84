"""An approval label goes on an issue only when a maintainer caused the run."""

from __future__ import annotations

import pytest

from factory.events import Trust
from factory.forge.outputs import OutputGate
from factory.testing.fake_github import FakeGitHub
from tests.forge import test_outputs
from tests.forge.test_outputs import MakeCtx

fake, repo_name, make_ctx, gate = (
    test_outputs.fake,
    test_outputs.repo_name,
    test_outputs.make_ctx,
    test_outputs.gate,
)

READY = frozenset({"factory:ready"})
OUTPUTS = {
    "create_issue": {"labels": []},
    "add_labels": {"allowed": ["factory:ready", "factory:triage"]},
}


@pytest.mark.parametrize("trust", ["anyone", "collaborators", "data"])
def test_new_issue_with_approval_label_is_refused_for_a_less_than_maintainer_run(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str, trust: Trust
) -> None:
    """create_issue with the ready label, in a run no maintainer caused, writes nothing."""
    ctx = make_ctx(OUTPUTS, trust=trust, approval_labels=READY)
    decision = gate.request(ctx, "create_issue", {"title": "t", "labels": ["factory:ready"]})
    assert (decision.status, decision.reason, len(fake.repo(repo_name).issues)) == (
        "refused",
        "create_issue: label(s) 'factory:ready' approve work, and this run was caused by an"
        f" actor trusted as {trust!r}: only a maintainer's request may approve (use the"
        " triage label and let a maintainer approve)",
        1,
    )


def test_configured_approval_label_on_new_issues_is_refused_too(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """An approval label in the create_issue config does not slip past the rule."""
    ctx = make_ctx(
        {"create_issue": {"labels": ["factory:ready"]}}, trust="anyone", approval_labels=READY
    )
    decision = gate.request(ctx, "create_issue", {"title": "t"})
    assert (decision.status, len(fake.repo(repo_name).issues)) == ("refused", 1)


def test_adding_an_approval_label_is_refused_for_an_untrusted_run(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """add_labels with the ready label, in a run an outsider caused, adds nothing."""
    ctx = make_ctx(OUTPUTS, trust="anyone", approval_labels=READY)
    decision = gate.request(ctx, "add_labels", {"labels": ["factory:triage", "factory:ready"]})
    assert (decision.status, fake.labels_of(repo_name, 1)) == ("refused", [])


def test_maintainer_run_may_approve_a_new_issue(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """A run a maintainer caused files the issue with the ready label."""
    ctx = make_ctx(OUTPUTS, trust="maintainers", approval_labels=READY)
    decision = gate.request(ctx, "create_issue", {"title": "t", "labels": ["factory:ready"]})
    assert (decision.status, fake.labels_of(repo_name, 2)) == ("applied", ["factory:ready"])


def test_other_labels_need_no_maintainer(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """The rule is about approval labels only: an outsider's run may add the triage label."""
    ctx = make_ctx(OUTPUTS, trust="anyone", approval_labels=READY)
    decision = gate.request(ctx, "add_labels", {"labels": ["factory:triage"]})
    assert (decision.status, fake.labels_of(repo_name, 1)) == ("applied", ["factory:triage"])


def test_removing_an_approval_label_needs_no_maintainer(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """Taking approval away (the builder removing the ready label) is always allowed."""
    fake.add_labels(repo_name, 1, "factory:ready", as_user="alice")
    ctx = make_ctx(
        {"remove_labels": {"allowed": ["factory:ready"]}}, trust="anyone", approval_labels=READY
    )
    decision = gate.request(ctx, "remove_labels", {"labels": ["factory:ready"]})
    assert (decision.status, fake.labels_of(repo_name, 1)) == ("applied", [])
