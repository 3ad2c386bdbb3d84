"""The daemon merges main into a factory PR's head: clean merges are pushed, conflicts listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.forge.pr_merge_base import MergeOutcome, merge_base_into
from factory.testing.fake_github import FakeGitHub
from factory.workspace import Mirror

from .patch_helpers import (
    IDENTITY,
    REPO,
    fake_fixture,  # noqa: F401  (fixture "fake")
)
from .pr_push_helpers import BRANCH, open_pull

RUN_ID = "01JMERGEAAAAAAAAAAAAAAAAAA"


def _merge(fake: FakeGitHub, tmp_path: Path, branch: str = BRANCH) -> MergeOutcome:
    data = tmp_path / "data"
    mirror = Mirror(data, REPO, fake.clone_url(REPO))
    mirror.fetch()
    head = fake.repo(REPO).git.resolve(f"refs/heads/{branch}") or ""
    return merge_base_into(
        mirror=mirror,
        branch=branch,
        head_sha=head,
        base_ref="main",
        identity=IDENTITY,
        data_dir=data,
        run_id=RUN_ID,
        auth_header=None,
    )


def _parents(fake: FakeGitHub, sha: str) -> list[str]:
    return fake.repo(REPO).git.git("rev-list", "--parents", "-n1", sha).split()[1:]


def test_clean_merge_pushes_a_merge_commit_on_the_head(fake: FakeGitHub, tmp_path: Path) -> None:
    """main moved elsewhere: the head branch gets a merge commit of (old head, main)."""
    open_pull(fake)
    git = fake.repo(REPO).git
    head = git.resolve(f"refs/heads/{BRANCH}")
    main = fake.commit_files(REPO, "main", {"docs/guide.md": "Guide, longer.\n"}, "Docs")
    outcome = _merge(fake, tmp_path)
    assert (outcome.status, _parents(fake, git.resolve(f"refs/heads/{BRANCH}") or "")) == (
        "merged",
        [head, main],
    )


def test_conflict_lists_the_files_and_pushes_nothing(fake: FakeGitHub, tmp_path: Path) -> None:
    """main changed the same lines: the outcome names the file and the branch stays."""
    open_pull(fake)
    git = fake.repo(REPO).git
    head = git.resolve(f"refs/heads/{BRANCH}")
    fake.commit_files(REPO, "main", {"src/app.py": "print('hello')\n"}, "Greeting")
    outcome = _merge(fake, tmp_path)
    assert (outcome, git.resolve(f"refs/heads/{BRANCH}")) == (
        MergeOutcome("conflicts", conflicts=("src/app.py",)),
        head,
    )


def test_up_to_date_head_is_left_alone(fake: FakeGitHub, tmp_path: Path) -> None:
    """A head that already contains main needs no merge."""
    open_pull(fake)
    assert _merge(fake, tmp_path).status == "up_to_date"


def test_a_branch_outside_factory_is_never_merged_into(fake: FakeGitHub, tmp_path: Path) -> None:
    """The daemon refuses to merge into a person's branch."""
    open_pull(fake, author="alice", branch="alice/feature")
    with pytest.raises(ValueError, match="not a factory/ branch"):
        _merge(fake, tmp_path, "alice/feature")
