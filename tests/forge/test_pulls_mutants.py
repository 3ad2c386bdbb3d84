"""Tests that kill mutants `make mutants` found alive in the pulls module."""

from __future__ import annotations

from collections.abc import Sequence

from github.Repository import Repository
from structlog.testing import capture_logs

from factory.forge.patches import PushedBranch
from factory.forge.pulls import closes_line, open_pull_request
from factory.forge.risk import RiskAssessment
from factory.testing.fake_github import FakeGitHub

from .patch_helpers import (
    BOT,
    REPO,
    fake_fixture,  # noqa: F401  (fixture "fake")
    repo_fixture,  # noqa: F401  (fixture "repo")
)

# Not killable with the fake (and not equivalent on real GitHub):
# - x_find_pull_request__mutmut_4 drops the head="owner:branch" filter; the loop's own
#   head.ref check then still matches only same-named branches, which differ only for a
#   fork's pull request, and FakeGitHub has no forks.
# Equivalent:
# - x_find_pull_request__mutmut_3 drops state="open"; GitHub (and the fake) list open pull
#   requests when no state is given.

RUN_ID = "01JRUNAAAAAAAAAAAAABCDEFGH"
KEY = "open_pull_request:1"
BRANCH = "factory/issue-1-abcdefgh"


def _branch(fake: FakeGitHub, branch: str = BRANCH) -> PushedBranch:
    """Push ``branch`` with one docs change on top of main; return it as apply_patch would."""
    main = fake.repo(REPO).git.resolve("refs/heads/main")
    assert main is not None
    fake.repo(REPO).git.create_ref(f"refs/heads/{branch}", main)
    sha = fake.commit_files(REPO, branch, {"docs/guide.md": "Guide.\nMore.\n"}, "agent change")
    return PushedBranch(branch, sha, main)


def _open(
    repo: Repository,
    pushed: PushedBranch,
    body: str = "Expands the guide.",
    *,
    risk: RiskAssessment | None = None,
    secrets: Sequence[str] = (),
) -> int:
    pr = open_pull_request(
        repo,
        pushed,
        title="Expand guide",
        body=body,
        issue_number=None,
        labels=[],
        draft=False,
        run_id=RUN_ID,
        key=KEY,
        secrets=secrets,
        risk=risk,
    )
    return pr.number


def _risk(reason: str) -> RiskAssessment:
    return RiskAssessment(
        tier="high", auto_merge=False, reasons=(reason,), changed_files=1, changed_lines=2
    )


# --- closes_line ---------------------------------------------------------------------------


def test_closes_line_appends_after_a_blank_line() -> None:
    """A body that does not close the issue gets a blank line then "Closes #N"."""
    assert closes_line("Expands the guide.", 3) == "Expands the guide.\n\nCloses #3"


def test_closes_line_of_a_blank_body_is_only_the_closing_line() -> None:
    """A body of only whitespace becomes just "Closes #N"."""
    assert closes_line("  \n", 3) == "Closes #3"


def test_closes_line_keeps_leading_space_and_drops_trailing_space() -> None:
    """Only the end of the body is trimmed before the closing line."""
    assert closes_line("  Intro.  \n", 3) == "  Intro.\n\nCloses #3"


# --- finding the pull request again --------------------------------------------------------


def test_open_reuses_the_open_pull_request_of_its_branch_without_a_marker(
    fake: FakeGitHub, repo: Repository
) -> None:
    """An open PR from the same branch is returned even when its body has no marker."""
    pushed = _branch(fake)
    existing = fake.create_pull(REPO, BRANCH, "Human PR", "no marker here", as_user=BOT).number
    assert (_open(repo, pushed), sorted(fake.repo(REPO).pulls)) == (existing, [existing])


# --- the body ------------------------------------------------------------------------------


def test_open_puts_the_risk_section_after_the_trimmed_body(
    fake: FakeGitHub, repo: Repository
) -> None:
    """The body's trailing space is trimmed and its leading space kept before the risk section."""
    number = _open(repo, _branch(fake), "  Expands the guide.  \n", risk=_risk("touches docs"))
    body = fake.issue(REPO, number).body or ""
    assert body.startswith(
        "  Expands the guide.\n\n**Risk tier: high** (needs a human merge)\n- touches docs"
    )


def test_open_redacts_secrets_in_the_risk_section(fake: FakeGitHub, repo: Repository) -> None:
    """A secret in a risk reason (it names agent-chosen paths) never reaches the PR body."""
    secret = "hunter2-s3cr3t-value"
    number = _open(repo, _branch(fake), risk=_risk(f"touches {secret}.txt"), secrets=[secret])
    assert secret not in (fake.issue(REPO, number).body or "")


# --- the log lines -------------------------------------------------------------------------


def test_open_logs_the_opened_pull_request(fake: FakeGitHub, repo: Repository) -> None:
    """Creating a PR logs pull_request_opened with the run, the number and the branch."""
    pushed = _branch(fake)
    with capture_logs() as logs:
        number = _open(repo, pushed)
    assert [e for e in logs if e["event"].startswith("pull_request_")] == [
        {
            "event": "pull_request_opened",
            "log_level": "info",
            "run_id": RUN_ID,
            "number": number,
            "branch": BRANCH,
        }
    ]


def test_open_logs_the_found_pull_request(fake: FakeGitHub, repo: Repository) -> None:
    """Finding the PR again logs pull_request_found with the run, the number and the branch."""
    pushed = _branch(fake)
    number = _open(repo, pushed)
    with capture_logs() as logs:
        _open(repo, pushed)
    assert [e for e in logs if e["event"].startswith("pull_request_")] == [
        {
            "event": "pull_request_found",
            "log_level": "info",
            "run_id": RUN_ID,
            "number": number,
            "branch": BRANCH,
        }
    ]
