"""The merge gate's checks and reviews, and the risk of a PR from GitHub's file list and at open.

Against FakeGitHub through real PyGithub; helpers are test_pulls.py's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from github.PullRequest import PullRequest
from github.Repository import Repository

from factory.config.harness import load_harness
from factory.forge.merge_gate import merge_pull_request
from factory.forge.pulls import open_pull_request
from factory.forge.risk import assess_risk, branch_changes
from factory.testing.fake_github import FakeGitHub
from tests.gitcmd import git

from .patch_helpers import (
    BOT,
    REPO,
    clone,
    fake_fixture,  # noqa: F401  (fixture "fake")
    make_policy,
    repo_fixture,  # noqa: F401  (fixture "repo")
)
from .test_pulls import (
    CONFIG,
    KEY,
    RUN_ID,
    _green_and_approved,
    _head,
    _merge,
    _pr_with,
    _push,
)

SHIPPED = load_harness(Path(__file__).resolve().parents[2] / "harness").policy


# -- merge gate: checks and reviews on the current head ------------------------------


def test_pending_status_blocks_merge(fake: FakeGitHub, repo: Repository) -> None:
    """A commit status still pending on the head is not green: no merge."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    _green_and_approved(fake, number)
    fake.set_status(REPO, _head(fake, number), "pending", "build", as_user="alice")
    decision = _merge(repo, number)
    assert (decision.merged, decision.reasons) == (False, ("status 'build' is pending",))


@pytest.mark.parametrize("state", ["queued", "in_progress"])
def test_unfinished_check_run_blocks_merge(fake: FakeGitHub, repo: Repository, state: str) -> None:
    """A check run that has not completed on the head is not green: no merge."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    _green_and_approved(fake, number)
    run = fake.add_check_run(REPO, _head(fake, number), "e2e", as_user="alice")
    run.status = state
    decision = _merge(repo, number)
    assert (decision.merged, decision.reasons) == (False, (f"check 'e2e' is {state}",))


def test_rerun_pending_after_success_blocks_merge(fake: FakeGitHub, repo: Repository) -> None:
    """A check re-run that is still queued replaces its earlier success: no merge."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    _green_and_approved(fake, number)
    fake.add_check_run(REPO, _head(fake, number), "tests", as_user="alice")
    assert _merge(repo, number).reasons == ("check 'tests' is queued",)


def test_pending_required_check_blocks_merge(fake: FakeGitHub, repo: Repository) -> None:
    """A required check that is present but pending blocks the merge."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    _green_and_approved(fake, number)
    fake.set_status(REPO, _head(fake, number), "pending", "security", as_user="alice")
    decision = _merge(repo, number, required_checks=["security"])
    assert (decision.merged, decision.reasons) == (False, ("status 'security' is pending",))


def test_policy_required_check_is_enforced(fake: FakeGitHub, repo: Repository) -> None:
    """The policy's required_checks block a merge when one never ran, with no argument."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    _green_and_approved(fake, number)
    policy = make_policy(required_checks=["security"])
    decision = merge_pull_request(repo, number, policy, "squash")
    assert (decision.merged, decision.reasons) == (
        False,
        ("required check 'security' has not run",),
    )


def test_approval_before_latest_push_does_not_merge_even_green(
    fake: FakeGitHub, repo: Repository
) -> None:
    """Approved, then a push, then all checks green on the new head: still no merge."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    _green_and_approved(fake, number)
    fake.commit_files(REPO, "factory/x", {"docs/guide.md": "Guide v3.\n"}, "more")
    fake.add_check_run(REPO, _head(fake, number), "tests", "success", as_user="alice")
    fake.set_status(REPO, _head(fake, number), "success", "lint", as_user="alice")
    decision = _merge(repo, number)
    assert (decision.merged, decision.reasons) == (False, ("approved only on an older commit",))


def test_all_green_with_trusted_approval_on_head_merges(fake: FakeGitHub, repo: Repository) -> None:
    """Required check green, re-approved by a maintainer on the current head: merged."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    fake.review(REPO, number, "APPROVE", as_user="alice")
    fake.commit_files(REPO, "factory/x", {"docs/guide.md": "Guide v3.\n"}, "more")
    _green_and_approved(fake, number)
    fake.set_status(REPO, _head(fake, number), "success", "security", as_user="alice")
    policy = make_policy(required_checks=["security"])
    decision = merge_pull_request(repo, number, policy, "squash")
    assert (decision.merged, fake.pull(REPO, number).merged) == (True, True)


# -- risk from GitHub's file list: old paths, removals; the tier at open time -------------


def _pr_by_git(fake: FakeGitHub, tmp_path: Path, *commands: list[str]) -> int:
    """Open a PR as the bot from a branch made by real git ``commands`` (mv, rm) on main."""
    work = clone(fake.clone_url(REPO), tmp_path / "work")
    for args in commands:
        git(*args, cwd=work)
    git("commit", "-q", "-m", "agent change", cwd=work)
    git("push", "-q", "origin", "HEAD:refs/heads/factory/x", cwd=work)
    return fake.create_pull(REPO, "factory/x", "Change", "body", as_user=BOT).number


@pytest.mark.parametrize(
    "commands",
    [
        [["mv", "src/app.py", "docs/app.py"]],
        [["mv", ".github/workflows/ci.yml", "docs/ci.yml"]],
        [["mv", "src/app.py", "notes.md"]],
    ],
    ids=["source-to-docs", "workflow-to-docs", "source-to-md"],
)
def test_rename_into_a_low_path_is_not_auto_merged(
    fake: FakeGitHub, repo: Repository, tmp_path: Path, commands: list[list[str]]
) -> None:
    """A green, approved PR that moves a file into docs/tests is judged by the old path too."""
    number = _pr_by_git(fake, tmp_path, *commands)
    _green_and_approved(fake, number)
    decision = _merge(repo, number)
    assert (decision.merged, fake.pull(REPO, number).merged) == (False, False)


def test_pr_deleting_tests_is_not_auto_merged(
    fake: FakeGitHub, repo: Repository, tmp_path: Path
) -> None:
    """A green, approved PR that deletes a test file (tests/ is a low path) is not merged."""
    fake.commit_files(REPO, "main", {"tests/test_app.py": "def test_a():\n    assert 1\n"})
    number = _pr_by_git(fake, tmp_path, ["rm", "-q", "tests/test_app.py"])
    _green_and_approved(fake, number)
    decision = _merge(repo, number)
    assert (decision.merged, decision.reasons) == (
        False,
        (
            "risk tier 'medium' does not allow auto-merge",
            "deletes tests: tests/test_app.py",
        ),
    )


def test_pr_gutting_a_document_is_not_auto_merged(fake: FakeGitHub, repo: Repository) -> None:
    """A green, approved PR that deletes most of a docs file is not merged."""
    fake.commit_files(REPO, "main", {"docs/guide.md": "".join(f"Step {i}.\n" for i in range(30))})
    number = _pr_with(fake, {"docs/guide.md": "Gone.\n"})
    _green_and_approved(fake, number)
    assert _merge(repo, number).merged is False


MANIFEST = {"pyproject.toml": "[project]\nname = 'w'\n"}
"""A dependency manifest change: high risk under the shipped policy."""


def _open_assessed(
    fake: FakeGitHub, repo: Repository, tmp_path: Path, files: dict[str, str], title: str, body: str
) -> PullRequest:
    """Push ``files`` as a factory branch and open its PR with the shipped policy's risk."""
    branch = _push(fake, tmp_path, files)
    return open_pull_request(
        repo,
        branch,
        title=title,
        body=body,
        issue_number=None,
        labels=CONFIG.labels,
        draft=CONFIG.draft,
        run_id=RUN_ID,
        key=KEY,
        risk=assess_risk(branch_changes(branch), SHIPPED),
    )


def test_sensitive_pr_is_labelled_needs_human_when_opened(
    fake: FakeGitHub, repo: Repository, tmp_path: Path
) -> None:
    """Opening a PR that changes a manifest labels it needs-human and its tier right away."""
    pr = _open_assessed(
        fake, repo, tmp_path, {"pyproject.toml": "[project]\nname = 'w'\n"}, "Deps", "Bump."
    )
    assert fake.labels_of(REPO, pr.number) == ["factory:review", "risk:high", "needs-human"]


def test_opened_pr_body_names_the_tier_and_reasons(
    fake: FakeGitHub, repo: Repository, tmp_path: Path
) -> None:
    """The PR body states the risk tier and every reason for it."""
    pr = _open_assessed(
        fake, repo, tmp_path, {"pyproject.toml": "[project]\nname = 'w'\n"}, "Deps", "Bump."
    )
    body = fake.issue(REPO, pr.number).body or ""
    assert body.split("\n\n")[1] == (
        "**Risk tier: high** (needs a human merge)\n"
        "- risk tier 'high' does not allow auto-merge\n"
        "- changes dependency manifests: pyproject.toml\n"
        "- changes dependencies: pyproject.toml"
    )


def test_low_risk_pr_is_not_labelled_needs_human(
    fake: FakeGitHub, repo: Repository, tmp_path: Path
) -> None:
    """A docs change opens with its tier label and without needs-human."""
    pr = _open_assessed(fake, repo, tmp_path, {"docs/guide.md": "Guide.\nMore.\n"}, "Docs", "More.")
    assert fake.labels_of(REPO, pr.number) == ["factory:review", "risk:low"]
