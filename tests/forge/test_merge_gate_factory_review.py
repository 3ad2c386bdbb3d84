"""The factory's own approving review and the merge gate's human-approval rule (issue #13)."""

from __future__ import annotations

import pydantic
import pytest
from github.Repository import Repository

from factory.forge.merge_gate import MergeDecision, merge_pull_request
from factory.testing.fake_github import FakeGitHub

from .patch_helpers import (
    BOT,
    REPO,
    fake_fixture,  # noqa: F401  (fixture "fake")
    make_policy,
    repo_fixture,  # noqa: F401  (fixture "repo")
)
from .test_pulls import _head, _pr_with

NO_APPROVAL = "no approving review by a collaborator or maintainer"
LOW_COUNTS = {"review": {"factory_approval_counts_for": ["low"]}}


def _green_approved_by_bot(fake: FakeGitHub, files: dict[str, str | bytes]) -> int:
    """Open a green PR with ``files`` that only the factory's bot approved; return it.

    bob opens it: GitHub refuses an approving review by a pull request's own author.
    """
    number = _pr_with(fake, files, author="bob")
    fake.add_check_run(REPO, _head(fake, number), "tests", "success", as_user="alice")
    fake.review(REPO, number, "APPROVE", as_user=BOT)
    return number


def _merge(repo: Repository, number: int, **policy: object) -> MergeDecision:
    return merge_pull_request(repo, number, make_policy(**policy), factory_logins=[BOT])


def test_bot_approval_on_low_pr_does_not_count_by_default(
    fake: FakeGitHub, repo: Repository
) -> None:
    """Without a review policy the bot's APPROVE on a green low-risk PR does not merge it."""
    number = _green_approved_by_bot(fake, {"docs/guide.md": "Guide v2.\n"})
    assert _merge(repo, number).reasons == (NO_APPROVAL,)


def test_bot_approval_counts_for_a_tier_the_policy_names(
    fake: FakeGitHub, repo: Repository
) -> None:
    """With factory_approval_counts_for: [low] the bot's APPROVE merges a green low PR."""
    number = _green_approved_by_bot(fake, {"docs/guide.md": "Guide v2.\n"})
    assert _merge(repo, number, **LOW_COUNTS).merged is True


def test_bot_approval_never_counts_for_medium(fake: FakeGitHub, repo: Repository) -> None:
    """Even with the policy naming low, the bot's APPROVE on a medium PR is no approval."""
    number = _green_approved_by_bot(fake, {"src/app.py": "print('hello')\n"})
    assert NO_APPROVAL in _merge(repo, number, **LOW_COUNTS).reasons


def test_bot_approval_on_an_older_commit_does_not_count(fake: FakeGitHub, repo: Repository) -> None:
    """The counted bot approval must be on the head commit, like a person's."""
    number = _green_approved_by_bot(fake, {"docs/guide.md": "Guide v2.\n"})
    branch = fake.pull(REPO, number).head_ref
    sha = fake.commit_files(REPO, branch, {"docs/guide.md": "Guide v3.\n"}, "later")
    fake.add_check_run(REPO, sha, "tests", "success", as_user="alice")
    assert _merge(repo, number, **LOW_COUNTS).reasons == ("approved only on an older commit",)


@pytest.mark.parametrize("tier", ["medium", "high", "nope"])
def test_policy_may_not_let_the_factory_approve_other_tiers(tier: str) -> None:
    """Naming a tier that does not auto-merge (or does not exist) is a policy error."""
    with pytest.raises(pydantic.ValidationError, match="factory_approval_counts_for"):
        make_policy(review={"factory_approval_counts_for": [tier]})
