"""FakeGitHub answers a merge like GitHub: a ``push`` webhook to the base branch, and the
merged pull request found from its commit (``GET /commits/{sha}/pulls``)."""

from __future__ import annotations

from collections.abc import Callable

from github import Github

from factory.testing.fake_github import FakeGitHub
from tests.testing.test_fake_github_pygithub import open_pr

REPO = "acme/widgets"
Client = Callable[..., Github]


def _pushes(fake: FakeGitHub) -> list[dict[str, object]]:
    return [payload for event, payload in fake.webhook_log if event == "push"]


def test_merge_sends_a_push_of_the_merge_commit_to_the_base_branch(
    fake: FakeGitHub, client: Client
) -> None:
    """pr.merge() emits one push: ref main, before the old tip, after the merge commit."""
    before = fake.repo(REPO).git.resolve("refs/heads/main")
    number = open_pr(fake, client)
    status = client().get_repo(REPO).get_pull(number).merge(merge_method="merge")
    [push] = _pushes(fake)
    sender = push["sender"]["login"]  # type: ignore[index]
    assert (push["ref"], push["before"], push["after"], sender) == (
        "refs/heads/main",
        before,
        status.sha,
        "alice",
    )


def test_push_of_a_squash_merge_lists_the_files_it_added(fake: FakeGitHub, client: Client) -> None:
    """The push's head commit names the files the squashed change added."""
    number = open_pr(fake, client)
    client().get_repo(REPO).get_pull(number).merge(merge_method="squash")
    [push] = _pushes(fake)
    assert push["head_commit"]["added"] == ["docs/new.md"]  # type: ignore[index]


def test_commit_pulls_finds_the_merged_pull_request(fake: FakeGitHub, client: Client) -> None:
    """GET /commits/{merge sha}/pulls answers the pull request the merge brought in."""
    number = open_pr(fake, client)
    sha = client().get_repo(REPO).get_pull(number).merge(merge_method="merge").sha
    pulls = client().get_repo(REPO).get_commit(sha).get_pulls()
    assert [(p.number, p.merged) for p in pulls] == [(number, True)]


def test_commit_pulls_of_a_plain_commit_is_empty(fake: FakeGitHub, client: Client) -> None:
    """A commit no pull request brought in has no associated pull requests."""
    sha = fake.commit_files(REPO, "main", {"x.txt": "x\n"}, "Direct push")
    assert list(client().get_repo(REPO).get_commit(sha).get_pulls()) == []
