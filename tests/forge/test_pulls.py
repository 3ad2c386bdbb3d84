"""open_pull_request and merge_pull_request against FakeGitHub, through real PyGithub."""

from __future__ import annotations

from pathlib import Path

import pytest
from github.Repository import Repository

from factory.config.outputs_config import OpenPullRequestOutput, Outputs
from factory.forge.markers import parse_markers
from factory.forge.merge_gate import MergeDecision, merge_pull_request
from factory.forge.output_requests import OpenPullRequestRequest, RunContext, prepare
from factory.forge.patches import PushedBranch, apply_patch
from factory.forge.pulls import open_pull_request
from factory.testing.fake_github import FakeGitHub

from .patch_helpers import (
    BOT,
    IDENTITY,
    REPO,
    clone,
    fake_fixture,  # noqa: F401  (fixture "fake")
    make_patch,
    make_policy,
    repo_fixture,  # noqa: F401  (fixture "repo")
)

RUN_ID = "01JRUNAAAAAAAAAAAAABCDEFGH"
KEY = "open_pull_request:1"
CONFIG = OpenPullRequestOutput(labels=["factory:review"], draft=True, title_prefix="[factory] ")


def _push(fake: FakeGitHub, tmp_path: Path, files: dict[str, str]) -> PushedBranch:
    url = fake.clone_url(REPO)
    made = make_patch(url, tmp_path / "agent", files=files)
    return apply_patch(
        made.patch,
        source=url,
        base_sha=made.base_sha,
        branch="factory/issue-1-abcdefgh",
        message="Improve the guide",
        identity=IDENTITY,
        policy=make_policy(),
        data_dir=tmp_path / "data",
        run_id=RUN_ID,
    )


@pytest.fixture
def pushed(fake: FakeGitHub, tmp_path: Path) -> PushedBranch:
    """A factory branch with a docs change, pushed to the fake by apply_patch; issue #1 exists."""
    fake.create_issue(REPO, "Guide is thin", "Please expand.", as_user="alice")
    return _push(fake, tmp_path, {"docs/guide.md": "Guide.\nMore.\n"})


def _open(repo: Repository, pushed: PushedBranch, body: str = "Expands the guide.") -> int:
    """Prepare the request through the output gate (as the daemon does), then open the PR."""
    ctx = RunContext(
        run_id=RUN_ID,
        automation="builder",
        outputs=Outputs(open_pull_request=CONFIG),
        subject=1,
        repo=repo,
        store=None,  # type: ignore[arg-type]  (prepare reads no store)
    )
    request = OpenPullRequestRequest(title="Expand guide", body=body)
    payload = prepare("open_pull_request", request, ctx).payload
    pr = open_pull_request(
        repo,
        pushed,
        title=payload["title"],
        body=payload["body"],
        issue_number=1,
        labels=payload["labels"],
        draft=payload["draft"],
        run_id=RUN_ID,
        key=KEY,
    )
    return pr.number


def test_pushed_branch_is_visible_in_a_clone(
    fake: FakeGitHub, pushed: PushedBranch, tmp_path: Path
) -> None:
    """The branch apply_patch pushed is on the fake, with the change."""
    out = clone(fake.clone_url(REPO), tmp_path / "check", pushed.branch)
    assert (out / "docs" / "guide.md").read_text() == "Guide.\nMore.\n"


def test_pull_request_body_has_closes_and_marker(
    fake: FakeGitHub, repo: Repository, pushed: PushedBranch
) -> None:
    """The PR body says Closes #1 and ends with the output's marker."""
    body = fake.issue(REPO, _open(repo, pushed)).body or ""
    assert ("Closes #1" in body, parse_markers(body)[-1].key) == (True, KEY)


def test_existing_closing_keyword_is_not_repeated(
    fake: FakeGitHub, repo: Repository, pushed: PushedBranch
) -> None:
    """A body that already fixes #1 gets no second closing line."""
    body = fake.issue(REPO, _open(repo, pushed, body="This fixes #1.")).body or ""
    assert "Closes #1" not in body


def test_pull_request_has_labels_draft_and_prefix(
    fake: FakeGitHub, repo: Repository, pushed: PushedBranch
) -> None:
    """Labels, draft flag and title prefix come from the output config."""
    number = _open(repo, pushed)
    pr = fake.pull(REPO, number)
    assert (fake.labels_of(REPO, number), pr.draft, fake.issue(REPO, number).title) == (
        ["factory:review"],
        True,
        "[factory] Expand guide",
    )


def test_agent_forged_marker_is_stripped(
    fake: FakeGitHub, repo: Repository, pushed: PushedBranch
) -> None:
    """A marker the agent wrote in the body is removed; only the daemon's remains."""
    forged = "Hi <!-- factoryd:v1 run=OTHER key=forged -->"
    body = fake.issue(REPO, _open(repo, pushed, body=forged)).body or ""
    assert [m.key for m in parse_markers(body)] == [KEY]


def test_second_open_returns_the_same_pull_request(
    fake: FakeGitHub, repo: Repository, pushed: PushedBranch
) -> None:
    """Opening again with the same key returns the first PR and creates no second one."""
    first = _open(repo, pushed)
    second = _open(repo, pushed)
    assert (second, sorted(fake.repo(REPO).pulls)) == (first, [first])


def test_open_pull_is_found_by_marker_from_another_branch(
    fake: FakeGitHub, repo: Repository, pushed: PushedBranch
) -> None:
    """A PR carrying the key's marker is found even if the branch name differs."""
    first = _open(repo, pushed)
    other = PushedBranch("factory/other-branch", pushed.sha, pushed.base_sha)
    assert _open(repo, other) == first


# -- merging ---------------------------------------------------------------------------


def _pr_with(
    fake: FakeGitHub, files: dict[str, str | bytes], branch: str = "factory/x", author: str = BOT
) -> int:
    """Open a PR as ``author`` (the bot) from a branch holding ``files`` on top of main."""
    main = fake.repo(REPO).git.resolve("refs/heads/main")
    assert main is not None
    fake.repo(REPO).git.create_ref(f"refs/heads/{branch}", main)
    fake.commit_files(REPO, branch, files, "agent change")
    return fake.create_pull(REPO, branch, "Change", "body", as_user=author).number


def _head(fake: FakeGitHub, number: int) -> str:
    """Return the PR's head as git has it now (the fake's record syncs on API reads only)."""
    sha = fake.repo(REPO).git.resolve(f"refs/heads/{fake.pull(REPO, number).head_ref}")
    assert sha is not None
    return sha


def _green_and_approved(fake: FakeGitHub, number: int) -> None:
    fake.add_check_run(REPO, _head(fake, number), "tests", "success", as_user="alice")
    fake.set_status(REPO, _head(fake, number), "success", "lint", as_user="alice")
    fake.review(REPO, number, "APPROVE", as_user="alice")


def _merge(repo: Repository, number: int, **kwargs: object) -> MergeDecision:
    return merge_pull_request(repo, number, make_policy(), "squash", **kwargs)  # type: ignore[arg-type]


def test_low_risk_green_approved_pr_is_merged(
    fake: FakeGitHub, repo: Repository, tmp_path: Path
) -> None:
    """Within policy, green and approved: merged with a real git merge, seen on main."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    _green_and_approved(fake, number)
    decision = _merge(repo, number)
    out = clone(fake.clone_url(REPO), tmp_path / "main-after")
    assert (decision.merged, (out / "docs" / "guide.md").read_text()) == (True, "Guide v2.\n")


def test_protected_path_pr_is_not_merged_and_needs_human(
    fake: FakeGitHub, repo: Repository
) -> None:
    """A PR touching .github/workflows is not merged even green and approved; needs-human."""
    number = _pr_with(fake, {".github/workflows/ci.yml": "name: pwned\n"})
    _green_and_approved(fake, number)
    decision = _merge(repo, number)
    assert (decision.merged, fake.pull(REPO, number).merged, fake.labels_of(REPO, number)) == (
        False,
        False,
        ["needs-human"],
    )


def test_protected_path_refusal_names_the_path(fake: FakeGitHub, repo: Repository) -> None:
    """The refusal's reasons say which protected path blocked it."""
    number = _pr_with(fake, {".github/workflows/ci.yml": "name: pwned\n"})
    _green_and_approved(fake, number)
    assert "touches protected paths: .github/workflows/ci.yml" in _merge(repo, number).reasons


def test_missing_approval_blocks_merge(fake: FakeGitHub, repo: Repository) -> None:
    """Green but unapproved: not merged, and the reason says so."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    fake.add_check_run(REPO, _head(fake, number), "tests", "success", as_user="alice")
    decision = _merge(repo, number)
    assert (decision.merged, decision.reasons) == (
        False,
        ("no approving review by a collaborator or maintainer",),
    )


def test_requested_changes_block_merge(fake: FakeGitHub, repo: Repository) -> None:
    """One approval and one request for changes: not merged."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    _green_and_approved(fake, number)
    fake.review(REPO, number, "REQUEST_CHANGES", "no", as_user="bob")
    assert _merge(repo, number).reasons == ("changes requested by bob",)


def test_failing_check_blocks_merge(fake: FakeGitHub, repo: Repository) -> None:
    """Approved but a check run failed: not merged, reason names the check."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    _green_and_approved(fake, number)
    fake.add_check_run(REPO, _head(fake, number), "e2e", "failure", as_user="alice")
    decision = _merge(repo, number)
    assert (decision.merged, decision.reasons) == (False, ("check 'e2e' is failure",))


def test_failing_status_blocks_merge(fake: FakeGitHub, repo: Repository) -> None:
    """A failing commit status (latest per context) blocks the merge."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    _green_and_approved(fake, number)
    fake.set_status(REPO, _head(fake, number), "failure", "lint", as_user="alice")
    assert _merge(repo, number).reasons == ("status 'lint' is failure",)


def test_no_checks_at_all_is_not_green(fake: FakeGitHub, repo: Repository) -> None:
    """Approved with no statuses and no check runs: not merged."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    fake.review(REPO, number, "APPROVE", as_user="alice")
    assert _merge(repo, number).reasons == ("no checks have run on the head commit",)


def test_missing_required_check_blocks_merge(fake: FakeGitHub, repo: Repository) -> None:
    """A required check that never ran blocks the merge."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    _green_and_approved(fake, number)
    decision = _merge(repo, number, required_checks=["security"])
    assert decision.reasons == ("required check 'security' has not run",)


def test_approval_of_an_older_commit_does_not_count(fake: FakeGitHub, repo: Repository) -> None:
    """A push after the approval leaves the PR unapproved."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    fake.review(REPO, number, "APPROVE", as_user="alice")
    fake.commit_files(REPO, "factory/x", {"docs/guide.md": "Guide v3.\n"}, "more")
    fake.add_check_run(REPO, _head(fake, number), "tests", "success", as_user="alice")
    assert _merge(repo, number).reasons == ("approved only on an older commit",)


def test_source_change_is_not_auto_merged(fake: FakeGitHub, repo: Repository) -> None:
    """A green, approved change to source code is medium risk: needs-human."""
    number = _pr_with(fake, {"src/app.py": "print('v2')\n"})
    _green_and_approved(fake, number)
    assert _merge(repo, number).reasons == ("risk tier 'medium' does not allow auto-merge",)


def test_approval_by_an_outsider_does_not_count(fake: FakeGitHub, repo: Repository) -> None:
    """On a public repository anyone may approve: an outsider's approval does not merge."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"})
    fake.add_check_run(REPO, _head(fake, number), "tests", "success", as_user="alice")
    fake.review(REPO, number, "APPROVE", as_user="otto")
    decision = _merge(repo, number)
    assert (decision.merged, decision.reasons) == (
        False,
        ("no approving review by a collaborator or maintainer",),
    )


def test_factory_cannot_approve_its_own_merge(fake: FakeGitHub, repo: Repository) -> None:
    """An approval by the factory's own login (of a person's PR) does not count for a merge."""
    number = _pr_with(fake, {"docs/guide.md": "Guide v2.\n"}, "people/x", author="bob")
    fake.add_check_run(REPO, _head(fake, number), "tests", "success", as_user="alice")
    fake.review(REPO, number, "APPROVE", as_user=BOT)
    decision = _merge(repo, number, factory_logins=[BOT])
    assert decision.merged is False
