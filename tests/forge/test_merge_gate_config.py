"""The merge gate never merges a change to the factory's own configuration, whatever its tier.

A green, maintainer-approved docs-only pull request (the low tier, which auto-merges) is
refused when it is on the factory config repository, comes from a config proposal's branch,
or carries a proposal's mark. Against FakeGitHub through real PyGithub; helpers are
test_pulls.py's.
"""

from __future__ import annotations

from github.Repository import Repository

from factory.forge.config_proposals import PROPOSAL_MARK
from factory.testing.fake_github import FakeGitHub

from .patch_helpers import (
    BOT,
    REPO,
    fake_fixture,  # noqa: F401  (fixture "fake")
    repo_fixture,  # noqa: F401  (fixture "repo")
)
from .test_pulls import _green_and_approved, _merge, _pr_with

CONFIG_REFUSAL = (
    f"{REPO} is the factory's own config repository: the factory never merges a change to its"
    " own configuration, a person does"
)
PROPOSAL_REFUSAL = (
    "it is a proposed change to the factory's own configuration: the factory never merges"
    " those, a person does"
)


def test_green_approved_low_tier_pr_on_the_config_repository_is_not_merged(
    fake: FakeGitHub, repo: Repository
) -> None:
    """On the config repository even an auto-merge tier PR, green and approved, stays open."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    _green_and_approved(fake, number)
    decision = _merge(repo, number, config_repos=[REPO.upper()])
    assert (decision.merged, decision.reasons, fake.pull(REPO, number).merged) == (
        False,
        (CONFIG_REFUSAL,),
        False,
    )


def test_refused_config_pr_is_labelled_needs_human(fake: FakeGitHub, repo: Repository) -> None:
    """The refused config pull request gets the policy's needs-human label."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    _green_and_approved(fake, number)
    _merge(repo, number, config_repos=[REPO])
    assert fake.labels_of(REPO, number) == ["needs-human"]


def test_pr_from_a_config_proposal_branch_is_not_merged(fake: FakeGitHub, repo: Repository) -> None:
    """A proposal's branch is refused even when the repository is not named as the config's."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"}, branch="factory/config-0123abcd")
    _green_and_approved(fake, number)
    decision = _merge(repo, number)
    assert (decision.merged, decision.reasons) == (False, (PROPOSAL_REFUSAL,))


def test_pr_carrying_the_proposal_mark_is_not_merged(fake: FakeGitHub, repo: Repository) -> None:
    """A pull request whose description carries the proposal mark is refused."""
    main = fake.repo(REPO).git.resolve("refs/heads/main")
    assert main is not None
    fake.repo(REPO).git.create_ref("refs/heads/factory/renamed", main)
    fake.commit_files(REPO, "factory/renamed", {"docs/guide.md": "v2\n"}, "change")
    body = f"Tune the builder.\n\n{PROPOSAL_MARK}"
    number = fake.create_pull(REPO, "factory/renamed", "Tune", body, as_user=BOT).number
    _green_and_approved(fake, number)
    assert _merge(repo, number).reasons == (PROPOSAL_REFUSAL,)


def test_naming_a_config_repository_does_not_stop_merges_elsewhere(
    fake: FakeGitHub, repo: Repository
) -> None:
    """The application's low-tier PR still merges when another repository is the config's."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    _green_and_approved(fake, number)
    assert _merge(repo, number, config_repos=["acme/factory-config"]).merged is True
