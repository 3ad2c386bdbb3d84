"""The merge gate reads the head's check suites: a pending or failed suite is not green.

GitHub Apps (GitHub Actions among them) make a check suite on the head commit before any of
its check runs exist; a suite completed red may have runs the run listing does not show.
Against FakeGitHub through real PyGithub; helpers are test_pulls.py's.
"""

from __future__ import annotations

import pytest
from github.Repository import Repository

from factory.testing.fake_github import FakeGitHub

from .patch_helpers import (
    REPO,
    fake_fixture,  # noqa: F401  (fixture "fake")
    repo_fixture,  # noqa: F401  (fixture "repo")
)
from .test_pulls import _head, _merge, _pr_with


def _status_green_and_approved(fake: FakeGitHub, number: int) -> None:
    """Another CI reported a green commit status; a maintainer approved the head."""
    fake.set_status(REPO, _head(fake, number), "success", "lint", as_user="alice")
    fake.review(REPO, number, "APPROVE", as_user="alice")


def test_queued_suite_without_runs_blocks_merge(fake: FakeGitHub, repo: Repository) -> None:
    """A green status beside a queued suite with no runs yet is not green: no merge."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    fake.add_check_suite(REPO, _head(fake, number), "queued", app="github-actions")
    _status_green_and_approved(fake, number)
    decision = _merge(repo, number)
    assert (decision.merged, decision.reasons) == (
        False,
        ("check suite of github-actions is queued",),
    )


def test_queued_suite_beside_green_runs_blocks_merge(fake: FakeGitHub, repo: Repository) -> None:
    """Another App's green check run does not make a queued suite of GitHub Actions green."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    fake.add_check_run(REPO, _head(fake, number), "tests", "success", as_user="alice")
    fake.add_check_suite(REPO, _head(fake, number), app="github-actions")
    _status_green_and_approved(fake, number)
    assert _merge(repo, number).reasons == ("check suite of github-actions is queued",)


def test_in_progress_suite_blocks_merge(fake: FakeGitHub, repo: Repository) -> None:
    """A suite in progress (no runs listed yet) blocks the merge and is named."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    fake.add_check_suite(REPO, _head(fake, number), "in_progress", app="codeql")
    _status_green_and_approved(fake, number)
    decision = _merge(repo, number)
    assert (decision.merged, decision.reasons) == (False, ("check suite of codeql is in_progress",))


@pytest.mark.parametrize(
    "conclusion", ["failure", "cancelled", "timed_out", "action_required", "stale"]
)
def test_completed_red_suite_blocks_merge(
    fake: FakeGitHub, repo: Repository, conclusion: str
) -> None:
    """A suite completed red whose runs are not listed still blocks the merge."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    suite = fake.add_check_suite(REPO, _head(fake, number), app="github-actions")
    fake.complete_check_suite(REPO, suite.id, conclusion)
    _status_green_and_approved(fake, number)
    decision = _merge(repo, number)
    assert (decision.merged, decision.reasons) == (
        False,
        (f"check suite of github-actions is {conclusion}",),
    )


def test_pending_suite_leaves_pr_needing_a_human(fake: FakeGitHub, repo: Repository) -> None:
    """A PR held back by a pending suite is left unmerged with the needs-human label."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    fake.add_check_suite(REPO, _head(fake, number), app="github-actions")
    _status_green_and_approved(fake, number)
    _merge(repo, number)
    assert (fake.pull(REPO, number).merged, fake.labels_of(REPO, number)) == (
        False,
        ["needs-human"],
    )


def test_failing_run_is_one_reason_not_two(fake: FakeGitHub, repo: Repository) -> None:
    """A failing run makes its suite fail too; the refusal names the run only once."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    fake.add_check_run(REPO, _head(fake, number), "e2e", "failure", as_user="alice")
    _status_green_and_approved(fake, number)
    assert _merge(repo, number).reasons == ("check 'e2e' is failure",)


def test_suite_of_another_commit_does_not_block(fake: FakeGitHub, repo: Repository) -> None:
    """A queued suite on an older commit of the branch says nothing about the head."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    fake.add_check_suite(REPO, _head(fake, number), app="github-actions")
    fake.commit_files(REPO, fake.pull(REPO, number).head_ref, {"docs/guide.md": "Guide v3.\n"})
    _status_green_and_approved(fake, number)
    assert _merge(repo, number).merged is True


@pytest.mark.parametrize("conclusion", ["success", "neutral", "skipped"])
def test_completed_green_suite_with_green_status_merges(
    fake: FakeGitHub, repo: Repository, conclusion: str
) -> None:
    """A suite completed green beside a green status, approved on the head: merged."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    suite = fake.add_check_suite(REPO, _head(fake, number), app="github-actions")
    fake.complete_check_suite(REPO, suite.id, conclusion)
    _status_green_and_approved(fake, number)
    decision = _merge(repo, number)
    assert (decision.merged, decision.reasons) == (True, ())
