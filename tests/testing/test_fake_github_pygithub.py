"""The real PyGithub client works against FakeGitHub, end to end."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from github import Github, GithubException

from factory.testing.fake_github import FakeGitHub

REPO = "acme/widgets"
Client = Callable[..., Github]


def test_get_repo_reports_default_branch(client: Client) -> None:
    """get_repo answers with the repo's default branch."""
    assert client().get_repo(REPO).default_branch == "main"


def test_create_issue_is_stored(fake: FakeGitHub, client: Client) -> None:
    """create_issue stores the issue with its author."""
    number = client().get_repo(REPO).create_issue(title="Bug", body="broken").number
    assert (fake.issue(REPO, number).title, fake.issue(REPO, number).user) == ("Bug", "alice")


def test_paginated_issues_are_all_listed(fake: FakeGitHub, client: Client) -> None:
    """PyGithub follows the Link header through every page."""
    for n in range(7):
        fake.create_issue(REPO, f"issue {n}", as_user="bob")
    numbers = [i.number for i in client(per_page=3).get_repo(REPO).get_issues()]
    assert numbers == [7, 6, 5, 4, 3, 2, 1]


def test_add_labels_shows_on_issue(fake: FakeGitHub, client: Client) -> None:
    """add_to_labels puts the labels on the issue."""
    fake.create_issue(REPO, "x", as_user="bob")
    client().get_repo(REPO).get_issue(1).add_to_labels("factory:ready", "bug")
    assert fake.labels_of(REPO, 1) == ["factory:ready", "bug"]


def test_second_ref_creation_raises_422(fake: FakeGitHub, client: Client) -> None:
    """Creating an existing ref raises GithubException 422 "Reference already exists"."""
    repo = client().get_repo(REPO)
    sha = repo.get_branch("main").commit.sha
    repo.create_git_ref("refs/heads/claim", sha)
    with pytest.raises(GithubException) as err:
        repo.create_git_ref("refs/heads/claim", sha)
    assert (err.value.status, err.value.data["message"]) == (422, "Reference already exists")


def open_pr(fake: FakeGitHub, client: Client) -> int:
    """Push a branch with one new file and open a PR for it through PyGithub."""
    base = fake.repo(REPO).git.resolve("refs/heads/main")
    assert base is not None
    fake.repo(REPO).git.set_ref("refs/heads/feature", base)
    fake.commit_files(REPO, "feature", {"docs/new.md": "new\n"}, "Add docs")
    pr = (
        client().get_repo(REPO).create_pull(title="Add docs", body="b", head="feature", base="main")
    )
    return int(pr.number)


def test_open_pr_lists_changed_files(fake: FakeGitHub, client: Client) -> None:
    """A PR's files come from the real git diff."""
    number = open_pr(fake, client)
    files = client().get_repo(REPO).get_pull(number).get_files()
    assert [(f.filename, f.status, f.additions) for f in files] == [("docs/new.md", "added", 1)]


def test_review_is_listed(fake: FakeGitHub, client: Client) -> None:
    """An APPROVE review by another user is listed as APPROVED."""
    number = open_pr(fake, client)
    client("t-bob").get_repo(REPO).get_pull(number).create_review(event="APPROVE")
    reviews = client().get_repo(REPO).get_pull(number).get_reviews()
    assert [(r.user.login, r.state) for r in reviews] == [("bob", "APPROVED")]


def test_merge_is_a_real_git_merge_visible_in_a_clone(
    fake: FakeGitHub, client: Client, tmp_path: Path
) -> None:
    """pr.merge() writes a merge commit that a fresh clone of main contains."""
    number = open_pr(fake, client)
    status = client().get_repo(REPO).get_pull(number).merge(merge_method="merge")
    subprocess.run(["git", "clone", "-q", fake.clone_url(REPO), str(tmp_path / "c")], check=True)
    head = subprocess.run(
        ["git", "-C", str(tmp_path / "c"), "log", "-1", "--format=%H %P"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert (status.merged, head[0], len(head[1:]), (tmp_path / "c/docs/new.md").exists()) == (
        True,
        status.sha,
        2,
        True,
    )


def test_combined_status_follows_statuses(fake: FakeGitHub, client: Client) -> None:
    """create_status then get_combined_status reports the failing state."""
    repo = client().get_repo(REPO)
    commit = repo.get_commit("main")
    commit.create_status("success", context="lint")
    commit.create_status("failure", context="tests")
    assert repo.get_commit("main").get_combined_status().state == "failure"


def test_search_issues_finds_ready_issues(fake: FakeGitHub, client: Client) -> None:
    """search_issues with repo/is/label qualifiers finds only the labelled open issue."""
    fake.create_issue(REPO, "ready one", as_user="bob", labels=["factory:ready"])
    fake.create_issue(REPO, "not ready", as_user="bob")
    fake.create_issue(REPO, "closed ready", as_user="bob", labels=["factory:ready"])
    fake.close_issue(REPO, 3, as_user="alice")
    found = client().search_issues(f'repo:{REPO} is:issue is:open label:"factory:ready"')
    assert [i.number for i in found] == [1]
