"""stale_for sweeps: a pull request's last progress is its head push, a review or a check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from github import Auth, Github
from github.Repository import Repository

from factory.config.triggers import Select
from factory.daemon.runenv import GitHubSide
from factory.daemon.wiring import select_subjects
from factory.events import utcnow
from factory.forge.pr_progress import last_progress, stalled
from factory.testing.fake_github import FakeGitHub

from .patch_helpers import (
    BOT,
    REPO,
    fake_fixture,  # noqa: F401  (fixture "fake")
)
from .pr_push_helpers import BRANCH, open_pull

OLD = "2020-01-01T00:00:00+00:00"


@dataclass
class Side:
    """The part of the daemon's GitHub side ``select_subjects`` reads."""

    repo: Repository


def _repo(fake: FakeGitHub) -> Repository:
    auth = Auth.Token("t-alice")
    return Github(base_url=fake.api_url, auth=auth, retry=None).get_repo(REPO)


@pytest.fixture
def old_pull(fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> int:
    """A factory PR whose head commit was made in 2020."""
    monkeypatch.setenv("GIT_COMMITTER_DATE", OLD)
    monkeypatch.setenv("GIT_AUTHOR_DATE", OLD)
    number = open_pull(fake)
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    monkeypatch.delenv("GIT_AUTHOR_DATE")
    return number


def _select(fake: FakeGitHub, stale_for: str) -> list[int]:
    select = Select.model_validate({"kind": "pull_request", "stale_for": stale_for})
    side: GitHubSide = Side(_repo(fake))  # type: ignore[assignment]
    return [s.number or 0 for s in select_subjects(side, select)]


def test_stale_for_is_read_as_seconds() -> None:
    """select: {stale_for: 6h} is six hours."""
    assert Select.model_validate({"stale_for": "6h"}).stale_for == 21600


def test_last_progress_of_an_untouched_pull_is_its_head_commit(
    fake: FakeGitHub, old_pull: int
) -> None:
    """With no review or check, the head commit's date is the last progress."""
    assert last_progress(_repo(fake).get_pull(old_pull)).year == 2020


def test_a_review_is_progress(fake: FakeGitHub, old_pull: int) -> None:
    """A review submitted now moves the last progress to now."""
    _repo(fake).get_pull(old_pull).create_review(body="Looks odd.", event="COMMENT")
    assert last_progress(_repo(fake).get_pull(old_pull)).year == utcnow().year


def test_a_finished_check_is_progress(fake: FakeGitHub, old_pull: int) -> None:
    """A check run on the head completed now moves the last progress to now."""
    head = fake.repo(REPO).git.resolve(f"refs/heads/{BRANCH}") or ""
    fake.add_check_run(REPO, head, "test", "failure", as_user=BOT, app="github-actions")
    assert last_progress(_repo(fake).get_pull(old_pull)).year == utcnow().year


def test_a_comment_is_not_progress(fake: FakeGitHub, old_pull: int) -> None:
    """A comment (the factory's own included) does not reset the clock."""
    _repo(fake).get_issue(old_pull).create_comment("Any news?")
    assert last_progress(_repo(fake).get_pull(old_pull)).year == 2020


def test_old_pull_is_stalled(fake: FakeGitHub, old_pull: int) -> None:
    """A PR with no progress since 2020 has stalled for six hours."""
    assert stalled(_repo(fake).get_issue(old_pull), 6 * 3600, utcnow()) is True


def test_fresh_pull_is_not_stalled(fake: FakeGitHub) -> None:
    """A PR pushed just now has not stalled for six hours, but has six hours later."""
    issue = _repo(fake).get_issue(open_pull(fake))
    later = utcnow() + timedelta(hours=7)
    assert (stalled(issue, 6 * 3600, utcnow()), stalled(issue, 6 * 3600, later)) == (False, True)


def test_sweep_selects_only_the_stalled_pull(fake: FakeGitHub, old_pull: int) -> None:
    """select with stale_for passes over a PR that moved recently."""
    fresh = open_pull(fake, branch="factory/issue-2-ffff0000")
    assert (_select(fake, "6h"), sorted(_select(fake, "0s"))) == ([old_pull], [old_pull, fresh])
