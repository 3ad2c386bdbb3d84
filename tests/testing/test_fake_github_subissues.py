"""FakeGitHub's sub-issue routes refuse what GitHub refuses (PyGithub and raw HTTP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from github import Auth, Github
from github.GithubException import GithubException
from github.Repository import Repository

from factory.testing.fake_github import FakeGitHub
from factory.testing.github_routes_subissues import MAX_SUB_ISSUES

REPO, OTHER = "acme/widgets", "globex/gadgets"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    """A FakeGitHub with acme/widgets and another owner's globex/gadgets; alice is admin."""
    with FakeGitHub() as gh:
        gh.create_repo(REPO)
        gh.create_repo(OTHER)
        gh.add_user("alice", token="t-alice", permission="admin")
        yield gh


@pytest.fixture
def repo(fake: FakeGitHub) -> Repository:
    """acme/widgets as alice sees it through PyGithub."""
    client = Github(
        base_url=fake.api_url,
        auth=Auth.Token("t-alice"),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    return client.get_repo(REPO)


def _status(call: object) -> tuple[int, str]:
    """Run ``call``; return the GithubException's status and first error message."""
    assert callable(call)
    with pytest.raises(GithubException) as caught:
        call()
    data = caught.value.data if isinstance(caught.value.data, dict) else {}
    errors = data.get("errors") or [{}]
    return caught.value.status, str(errors[0].get("message", data.get("message", "")))


def test_added_sub_issue_is_listed_by_its_parent(repo: Repository) -> None:
    """POST …/sub_issues with the sub-issue's id makes GET …/sub_issues list it."""
    parent, child = repo.create_issue("Epic"), repo.create_issue("Part 1")
    parent.add_sub_issue(child.id)
    assert [s.number for s in parent.get_sub_issues()] == [child.number]


def test_sub_issue_by_number_instead_of_id_is_not_found(repo: Repository) -> None:
    """Sending the issue's number as ``sub_issue_id`` is GitHub's 404, not a link."""
    parent, child = repo.create_issue("Epic"), repo.create_issue("Part 1")
    assert _status(lambda: parent.add_sub_issue(child.number))[0] == 404


def test_sub_issue_with_a_parent_is_refused_elsewhere(repo: Repository) -> None:
    """An issue that already has a parent cannot be added under another one (422)."""
    first, second, child = (repo.create_issue(t) for t in ("Epic A", "Epic B", "Part"))
    first.add_sub_issue(child.id)
    assert _status(lambda: second.add_sub_issue(child.id)) == (
        422,
        "Sub issue may only have one parent",
    )


def test_sub_issue_added_twice_to_one_parent_is_refused(repo: Repository) -> None:
    """Adding the same sub-issue to the same parent again is a 422, and it is listed once."""
    parent, child = repo.create_issue("Epic"), repo.create_issue("Part")
    parent.add_sub_issue(child.id)
    status = _status(lambda: parent.add_sub_issue(child.id))[0]
    assert (status, [s.number for s in parent.get_sub_issues()]) == (422, [child.number])


def test_parent_holds_at_most_the_allowed_count(fake: FakeGitHub, repo: Repository) -> None:
    """The sub-issue past GitHub's per-parent limit is refused (422)."""
    parent = repo.create_issue("Epic")
    fake.repo(REPO).sub_issues[parent.number] = list(range(1000, 1000 + MAX_SUB_ISSUES))
    child = repo.create_issue("One too many")
    assert _status(lambda: parent.add_sub_issue(child.id))[0] == 422


def test_another_owners_issue_cannot_be_a_sub_issue(fake: FakeGitHub, repo: Repository) -> None:
    """An issue id of another owner's repository is refused (422), and nothing is linked."""
    foreign = fake.create_issue(OTHER, "Theirs", "", as_user="alice")
    parent = repo.create_issue("Epic")
    status = _status(lambda: parent.add_sub_issue(foreign.id))[0]
    assert (status, list(parent.get_sub_issues())) == (422, [])


def test_issue_cannot_be_its_own_sub_issue(repo: Repository) -> None:
    """A parent's own id as ``sub_issue_id`` is refused (422)."""
    parent = repo.create_issue("Epic")
    assert _status(lambda: parent.add_sub_issue(parent.id))[0] == 422


def test_replace_parent_moves_the_sub_issue(fake: FakeGitHub, repo: Repository) -> None:
    """With ``replace_parent`` the sub-issue leaves its old parent for the new one."""
    first, second, child = (repo.create_issue(t) for t in ("Epic A", "Epic B", "Part"))
    first.add_sub_issue(child.id)
    repo._requester.requestJsonAndCheck(
        "POST", f"{second.url}/sub_issues", input={"sub_issue_id": child.id, "replace_parent": True}
    )
    assert fake.repo(REPO).sub_issues == {first.number: [], second.number: [child.number]}
