"""FakeGitHub's check suites, as GitHub has them, read through the real PyGithub."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from github import Github

from factory.testing.fake_github import FakeGitHub
from tests.testing.conftest import Answer

REPO = "acme/widgets"
Client = Callable[..., Github]


def _main(fake: FakeGitHub) -> str:
    sha = fake.repo(REPO).git.resolve("refs/heads/main")
    assert sha is not None
    return sha


def _suites(client: Client, sha: str) -> list[tuple[str, str, str | None]]:
    """Return (app slug, status, conclusion) of every suite on ``sha``, as listed."""
    commit = client().get_repo(REPO).get_commit(sha)
    return [(s.app.slug, s.status, s.conclusion) for s in commit.get_check_suites()]


def test_check_run_joins_its_apps_suite(fake: FakeGitHub, client: Client) -> None:
    """A check run's check_suite is the suite listed for its App on its commit."""
    run = fake.add_check_run(REPO, _main(fake), "tests", "success", as_user="alice")
    commit = client().get_repo(REPO).get_commit(_main(fake))
    listed = [s.id for s in commit.get_check_suites()]
    assert listed == [commit.get_check_runs()[0].check_suite.id] == [run.suite_id]


def test_runs_of_one_app_share_one_suite(fake: FakeGitHub, client: Client) -> None:
    """Two runs of one App on one commit make one suite; another App's run makes a second."""
    sha = _main(fake)
    fake.add_check_run(REPO, sha, "tests", "success", as_user="alice")
    fake.add_check_run(REPO, sha, "lint", "success", as_user="alice")
    fake.add_check_run(REPO, sha, "build", "success", as_user="alice", app="github-actions")
    assert _suites(client, sha) == [
        ("fake-ci", "completed", "success"),
        ("github-actions", "completed", "success"),
    ]


def test_suite_with_an_unfinished_run_is_in_progress(fake: FakeGitHub, client: Client) -> None:
    """A suite with one completed and one queued run is in_progress, without a conclusion."""
    sha = _main(fake)
    fake.add_check_run(REPO, sha, "tests", "success", as_user="alice")
    fake.add_check_run(REPO, sha, "e2e", as_user="alice")
    assert _suites(client, sha) == [("fake-ci", "in_progress", None)]


def test_suite_of_queued_runs_is_queued(fake: FakeGitHub, client: Client) -> None:
    """A suite whose runs are all queued is queued."""
    fake.add_check_run(REPO, _main(fake), "e2e", as_user="alice")
    assert _suites(client, _main(fake)) == [("fake-ci", "queued", None)]


def test_suite_concludes_its_highest_priority_conclusion(fake: FakeGitHub, client: Client) -> None:
    """Runs concluding timed_out, success and neutral make a timed_out suite (GitHub's example)."""
    sha = _main(fake)
    for name, conclusion in (("a", "timed_out"), ("b", "success"), ("c", "neutral")):
        fake.add_check_run(REPO, sha, name, conclusion, as_user="alice")
    assert _suites(client, sha) == [("fake-ci", "completed", "timed_out")]


def test_rerun_supersedes_in_the_suite(fake: FakeGitHub, client: Client) -> None:
    """A failed run re-run green (same name, newer) leaves the suite successful."""
    sha = _main(fake)
    fake.add_check_run(REPO, sha, "tests", "failure", as_user="alice")
    fake.add_check_run(REPO, sha, "tests", "success", as_user="alice")
    assert _suites(client, sha) == [("fake-ci", "completed", "success")]


def test_suite_without_runs_stays_queued(fake: FakeGitHub, client: Client) -> None:
    """A suite made before its App creates runs is listed queued with no conclusion."""
    fake.add_check_suite(REPO, _main(fake))
    assert _suites(client, _main(fake)) == [("github-actions", "queued", None)]


def test_completed_suite_without_runs_has_its_conclusion(fake: FakeGitHub, client: Client) -> None:
    """complete_check_suite gives a run-less suite its status and conclusion, read by id."""
    suite = fake.add_check_suite(REPO, _main(fake), "in_progress")
    fake.complete_check_suite(REPO, suite.id, "failure")
    got = client().get_repo(REPO).get_check_suite(suite.id)
    assert (got.status, got.conclusion, got.latest_check_runs_count) == ("completed", "failure", 0)


def test_first_run_of_a_suites_app_joins_it(fake: FakeGitHub, client: Client) -> None:
    """A run of an App that already has a queued suite joins it; the suite follows the run."""
    suite = fake.add_check_suite(REPO, _main(fake), app="fake-ci")
    run = fake.add_check_run(REPO, _main(fake), "tests", "failure", as_user="alice")
    assert (run.suite_id, _suites(client, _main(fake))) == (
        suite.id,
        [("fake-ci", "completed", "failure")],
    )


def test_second_suite_of_one_app_is_refused(fake: FakeGitHub) -> None:
    """add_check_suite refuses a second suite of one App on one commit."""
    fake.add_check_suite(REPO, _main(fake))
    with pytest.raises(ValueError, match="already has a check suite"):
        fake.add_check_suite(REPO, _main(fake))


def test_suites_filter_by_app_id(fake: FakeGitHub, client: Client) -> None:
    """app_id lists only that App's suites (GitHub Actions is App 15368)."""
    sha = _main(fake)
    fake.add_check_run(REPO, sha, "tests", "success", as_user="alice")
    fake.add_check_suite(REPO, sha)
    commit = client().get_repo(REPO).get_commit(sha)
    assert [s.app.slug for s in commit.get_check_suites(app_id=15368)] == ["github-actions"]


def test_suites_of_an_unknown_commit_are_a_422(call: Callable[..., Answer]) -> None:
    """An unknown commit answers 422 "No commit found for SHA", as GitHub does."""
    answer = call("GET", f"/repos/{REPO}/commits/{'0' * 40}/check-suites")
    assert (answer.status, answer.body["message"]) == (422, f"No commit found for SHA: {'0' * 40}")
