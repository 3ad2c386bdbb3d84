"""Tests that kill mutants `make mutants` found alive in the pulls and merge_gate modules.

The merge gate's tests are in the second half (the file predates the split of the modules).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from github.Repository import Repository
from structlog.testing import capture_logs

from factory.forge.merge_gate import MergeDecision, merge_pull_request
from factory.forge.patches import PushedBranch
from factory.forge.pulls import closes_line, open_pull_request
from factory.forge.risk import RiskAssessment
from factory.testing.fake_github import FakeGitHub

from .patch_helpers import (
    BOT,
    REPO,
    fake_fixture,  # noqa: F401  (fixture "fake")
    make_policy,
    repo_fixture,  # noqa: F401  (fixture "repo")
)
from .test_pulls import _head, _pr_with

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


# --- the merge gate ------------------------------------------------------------------------

DOCS = {"docs/guide.md": "Guide v2.\n"}


def _gate(repo: Repository, number: int, method: str = "squash", **kwargs: object) -> MergeDecision:
    return merge_pull_request(repo, number, make_policy(), method, **kwargs)  # type: ignore[arg-type]


def _green(fake: FakeGitHub, number: int) -> None:
    """One green check run on the head."""
    fake.add_check_run(REPO, _head(fake, number), "tests", "success", as_user="alice")


def _approve(fake: FakeGitHub, number: int, as_user: str = "alice") -> None:
    fake.review(REPO, number, "APPROVE", as_user=as_user)


def _ready(fake: FakeGitHub) -> int:
    """A docs PR with a green check and a maintainer's approval of its head."""
    number = _pr_with(fake, DOCS)
    _green(fake, number)
    _approve(fake, number)
    return number


def test_merged_decision_summary_names_the_merge_commit() -> None:
    """A merged decision says so, with the merge commit."""
    assert MergeDecision(7, True, (), merge_sha="abc").summary() == (
        "pull request #7 was merged (abc)"
    )


def test_refused_decision_summary_joins_the_reasons() -> None:
    """A refused decision names every reason, joined by semicolons."""
    assert MergeDecision(7, False, ("a", "b")).summary() == ("pull request #7 was not merged: a; b")


def test_merge_returns_the_merge_commit_and_the_risk(fake: FakeGitHub, repo: Repository) -> None:
    """A merge returns merged, no reasons, the low tier and the merge commit GitHub made."""
    number = _ready(fake)
    decision = _gate(repo, number)
    assert (decision.merged, decision.reasons, decision.risk.tier if decision.risk else None) == (
        True,
        (),
        "low",
    )
    assert decision.merge_sha == fake.pull(REPO, number).merge_commit_sha


def test_merge_uses_the_method_asked_for(fake: FakeGitHub, repo: Repository) -> None:
    """The merge method is passed to GitHub: one it does not allow is a refusal with its reply."""
    number = _ready(fake)
    decision = _gate(repo, number, "rebase")
    assert (
        decision.merged,
        decision.reasons[0].startswith("GitHub refused the merge (405): "),
    ) == (
        False,
        True,
    )


def test_merge_logs_the_merged_pull_request(fake: FakeGitHub, repo: Repository) -> None:
    """A merge logs pull_request_merged with the number, the merge commit and the tier."""
    number = _ready(fake)
    with capture_logs() as logs:
        decision = _gate(repo, number)
    assert [e for e in logs if e["event"].startswith("pull_request_")] == [
        {
            "event": "pull_request_merged",
            "log_level": "info",
            "number": number,
            "sha": decision.merge_sha,
            "tier": "low",
        }
    ]


def test_refusal_logs_needs_human_with_the_reason_count(fake: FakeGitHub, repo: Repository) -> None:
    """A refusal logs pull_request_needs_human with the number, the tier and how many reasons."""
    number = _pr_with(fake, DOCS)
    with capture_logs() as logs:
        _gate(repo, number)
    assert [e for e in logs if e["event"].startswith("pull_request_")] == [
        {
            "event": "pull_request_needs_human",
            "log_level": "info",
            "number": number,
            "tier": "low",
            "reasons": 2,
        }
    ]


def test_closed_pull_request_is_not_merged_nor_labelled(fake: FakeGitHub, repo: Repository) -> None:
    """A closed PR is refused as closed, without a risk and without the needs-human label."""
    number = _ready(fake)
    fake.close_issue(REPO, number, as_user="alice")
    decision = _gate(repo, number)
    assert (decision, fake.labels_of(REPO, number)) == (
        MergeDecision(number, False, ("it is closed",)),
        [],
    )


def test_merged_pull_request_is_refused_as_already_merged(
    fake: FakeGitHub, repo: Repository
) -> None:
    """Asking again after a merge says it is already merged."""
    number = _ready(fake)
    _gate(repo, number)
    assert _gate(repo, number) == MergeDecision(number, False, ("it is already merged",))


def test_draft_pull_request_is_not_merged(fake: FakeGitHub, repo: Repository) -> None:
    """A draft is refused as a draft, green and approved or not."""
    number = _ready(fake)
    fake.pull(REPO, number).draft = True
    assert _gate(repo, number).reasons == ("it is a draft",)


def test_conflicting_pull_request_is_not_merged(fake: FakeGitHub, repo: Repository) -> None:
    """A PR whose change conflicts with its base is refused for the conflict."""
    number = _ready(fake)
    fake.commit_files(REPO, "main", {"docs/guide.md": "Guide v3.\n"}, "conflicting change")
    assert _gate(repo, number).reasons == ("it has merge conflicts with its base",)


def test_caller_and_policy_required_checks_are_both_required(
    fake: FakeGitHub, repo: Repository
) -> None:
    """Checks the caller requires join the policy's; each missing one is named, sorted."""
    number = _ready(fake)
    policy = make_policy(required_checks=["zeta"])
    decision = merge_pull_request(repo, number, policy, "squash", required_checks=["alpha"])
    assert decision.reasons == (
        "required check 'alpha' has not run",
        "required check 'zeta' has not run",
    )


def test_present_required_check_does_not_block(fake: FakeGitHub, repo: Repository) -> None:
    """A required check that ran green is no reason."""
    number = _ready(fake)
    assert _gate(repo, number, required_checks=["tests"]).merged is True


@pytest.mark.parametrize("conclusion", ["neutral", "skipped"])
def test_neutral_or_skipped_check_is_green(
    fake: FakeGitHub, repo: Repository, conclusion: str
) -> None:
    """A check that concluded neutral or skipped does not block the merge."""
    number = _ready(fake)
    fake.add_check_run(REPO, _head(fake, number), "lint", conclusion, as_user="alice")
    assert _gate(repo, number).merged is True


def test_later_green_run_of_a_check_replaces_a_failed_one(
    fake: FakeGitHub, repo: Repository
) -> None:
    """Only a check's latest run counts: a failure re-run green does not block."""
    number = _pr_with(fake, DOCS)
    fake.add_check_run(REPO, _head(fake, number), "tests", "failure", as_user="alice")
    fake.add_check_run(REPO, _head(fake, number), "tests", "success", as_user="alice")
    _approve(fake, number)
    assert _gate(repo, number).merged is True


def test_failing_checks_are_named_in_name_order(fake: FakeGitHub, repo: Repository) -> None:
    """Every failing check is one reason, sorted by name."""
    number = _ready(fake)
    fake.add_check_run(REPO, _head(fake, number), "zz", "failure", as_user="alice")
    fake.add_check_run(REPO, _head(fake, number), "aa", "cancelled", as_user="alice")
    assert _gate(repo, number).reasons == ("check 'aa' is cancelled", "check 'zz' is failure")


def test_failing_statuses_are_named_in_context_order(fake: FakeGitHub, repo: Repository) -> None:
    """Every status not success is one reason, sorted by context; success ones are not."""
    number = _ready(fake)
    sha = _head(fake, number)
    fake.set_status(REPO, sha, "error", "zz", as_user="alice")
    fake.set_status(REPO, sha, "success", "mm", as_user="alice")
    fake.set_status(REPO, sha, "failure", "aa", as_user="alice")
    assert _gate(repo, number).reasons == ("status 'aa' is failure", "status 'zz' is error")


def test_green_status_alone_is_enough_checks(fake: FakeGitHub, repo: Repository) -> None:
    """A green commit status without check runs counts as checks that ran."""
    number = _pr_with(fake, DOCS)
    fake.set_status(REPO, _head(fake, number), "success", "ci", as_user="alice")
    _approve(fake, number)
    assert _gate(repo, number).merged is True


def test_queued_check_run_is_named_by_its_status(fake: FakeGitHub, repo: Repository) -> None:
    """A check run that has not completed is named with its status, not a conclusion."""
    number = _ready(fake)
    fake.add_check_run(REPO, _head(fake, number), "slow", as_user="alice")
    assert _gate(repo, number).reasons[0] == "check 'slow' is queued"


def test_requests_for_changes_name_every_reviewer_sorted(
    fake: FakeGitHub, repo: Repository
) -> None:
    """All trusted reviewers requesting changes are named, sorted, in one reason."""
    number = _ready(fake)
    fake.review(REPO, number, "REQUEST_CHANGES", "no", as_user="bob")
    fake.review(REPO, number, "REQUEST_CHANGES", "no", as_user="alice")
    assert _gate(repo, number).reasons == ("changes requested by alice, bob",)


def test_later_approval_replaces_a_request_for_changes(fake: FakeGitHub, repo: Repository) -> None:
    """A reviewer's latest review counts: changes requested, then approved, approves."""
    number = _pr_with(fake, DOCS)
    _green(fake, number)
    fake.review(REPO, number, "REQUEST_CHANGES", "no", as_user="bob")
    _approve(fake, number, "bob")
    assert _gate(repo, number).merged is True


def test_comment_review_does_not_undo_an_approval(fake: FakeGitHub, repo: Repository) -> None:
    """A plain comment review after an approval leaves the approval standing."""
    number = _ready(fake)
    fake.review(REPO, number, "COMMENT", "nice", as_user="alice")
    assert _gate(repo, number).merged is True


def test_collaborator_approval_counts(fake: FakeGitHub, repo: Repository) -> None:
    """A collaborator's (write permission) approval is enough."""
    number = _pr_with(fake, DOCS)
    _green(fake, number)
    _approve(fake, number, "bob")
    assert _gate(repo, number).merged is True


def test_outsider_request_for_changes_does_not_block(fake: FakeGitHub, repo: Repository) -> None:
    """A reader's request for changes is not a trusted review: it blocks nothing."""
    number = _ready(fake)
    fake.review(REPO, number, "REQUEST_CHANGES", "no", as_user="otto")
    assert _gate(repo, number).merged is True


def test_factory_request_for_changes_does_not_block(fake: FakeGitHub, repo: Repository) -> None:
    """The factory's own review is ignored, a request for changes included."""
    number = _pr_with(fake, DOCS, "people/y", author="bob")
    _green(fake, number)
    _approve(fake, number)
    fake.review(REPO, number, "REQUEST_CHANGES", "no", as_user=BOT)
    assert _gate(repo, number, factory_logins=[BOT]).merged is True


def test_refused_pull_request_gets_the_needs_human_label(
    fake: FakeGitHub, repo: Repository
) -> None:
    """A refusal puts the policy's needs-human label on the PR."""
    number = _pr_with(fake, DOCS)
    _gate(repo, number)
    assert fake.labels_of(REPO, number) == ["needs-human"]


def test_failed_suite_is_named_by_its_app(fake: FakeGitHub, repo: Repository) -> None:
    """A suite completed red with no runs is named by its App's slug and conclusion."""
    number = _ready(fake)
    suite = fake.add_check_suite(REPO, _head(fake, number), app="github-actions")
    fake.complete_check_suite(REPO, suite.id, "failure")
    assert _gate(repo, number).reasons == ("check suite of github-actions is failure",)


def test_merge_without_a_method_squashes(fake: FakeGitHub, repo: Repository) -> None:
    """Without a method the gate asks GitHub for a squash merge: one commit on main."""
    number = _ready(fake)
    decision = merge_pull_request(repo, number, make_policy())
    sha = decision.merge_sha
    assert sha is not None
    assert (decision.merged, fake.repo(REPO).git.resolve(f"{sha}^2")) == (True, None)


def test_suite_after_an_explained_one_still_blocks(fake: FakeGitHub, repo: Repository) -> None:
    """A failing run's suite is reported by the run; another App's queued suite still blocks."""
    number = _ready(fake)
    fake.add_check_run(REPO, _head(fake, number), "e2e", "failure", as_user="alice")
    fake.add_check_suite(REPO, _head(fake, number), app="github-actions")
    assert _gate(repo, number).reasons == (
        "check 'e2e' is failure",
        "check suite of github-actions is queued",
    )


def test_approval_after_a_comment_review_counts(fake: FakeGitHub, repo: Repository) -> None:
    """A comment review before an approval is skipped; the reviews after it still count."""
    number = _pr_with(fake, DOCS)
    _green(fake, number)
    fake.review(REPO, number, "COMMENT", "looking", as_user="alice")
    _approve(fake, number)
    assert _gate(repo, number).merged is True


def test_approval_after_an_outsiders_review_counts(fake: FakeGitHub, repo: Repository) -> None:
    """An outsider's review before a maintainer's approval is skipped; the approval counts."""
    number = _pr_with(fake, DOCS)
    _green(fake, number)
    _approve(fake, number, "otto")
    _approve(fake, number)
    assert _gate(repo, number).merged is True


# Not killable with the fake (and not equivalent on real GitHub):
# - `exc.status not in (405, 409)` with 409 mutated: GitHub answers 409 when the head moved
#   between reading it and merging, a race a single-threaded test cannot make
#   (x_merge_pull_request__mutmut_97).
# Equivalent (GitHub never sends what would tell them apart):
# - `outcome or "pending"` for check runs and suites, with "pending" mutated: a completed
#   run or suite always has a conclusion and one not completed always has a status, so the
#   fallback is never used.
# - `run.id > latest` -> `>=` (x__check_reasons__mutmut_9): check run ids are unique, so
#   a run is never compared with one of the same id.
# Not killable with the fake: x__suite_reasons__mutmut_13 (a suite whose `app` is null,
#   named "#ID" instead of its App): FakeGitHub makes every suite for an App.
# The "pending" fallback above is x__suite_reasons__mutmut_17, _18 for suites.
# The "pending" fallback for check runs is x__check_reasons__mutmut_19, _20.
# Not killable with the fake: x__check_reasons__mutmut_32 (the reason "the combined commit
#   status is ..." replaced by None). It is given only when every listed status is green but
#   GitHub's combined state is not, which happens when failing statuses are past the first
#   page; FakeGitHub lists every status in the combined view.
# Not killable (the same race): x_merge_pull_request__mutmut_94 drops `sha=head_sha` from the
#   merge call; without it GitHub merges whatever the head is by then, which differs only
#   when a push lands between the gate's reads and its merge.
# Not killable with GitHub's documented answers: x_merge_pull_request__mutmut_120 (the reason
#   "GitHub did not merge it: ..." replaced by None). PUT /pulls/N/merge answers 200 only
#   with "merged": true (a merge it cannot make is 405, a moved head 409), so the
#   `status.merged` false branch is a guard no real or fake answer reaches.
# Equivalent: x__own_config_reason__mutmut_10 (`pr.body or "XXXX"`): a pull request without
#   a body carries no proposal mark either way.


def test_merged_decision_names_its_pull_request(fake: FakeGitHub, repo: Repository) -> None:
    """The decision of a merge names the pull request it merged."""
    number = _ready(fake)
    decision = _gate(repo, number)
    assert (decision.number, decision.merged) == (number, True)


def test_refused_decision_names_its_pull_request_and_carries_the_risk(
    fake: FakeGitHub, repo: Repository
) -> None:
    """A refusal after the risk was assessed names the pull request and keeps the assessment."""
    number = _ready(fake)
    fake.pull(REPO, number).draft = True
    decision = _gate(repo, number)
    risk = decision.risk
    assert (decision.number, decision.merged, risk and (risk.changed_files, risk.tier)) == (
        number,
        False,
        (1, "low"),
    )


# --- the merge gate: the factory's own configuration ---------------------------------------

CONFIG_REPO_REASON = (
    f"{REPO} is the factory's own config repository: the factory never merges a change to its"
    " own configuration, a person does"
)
PROPOSAL_REASON = (
    "it is a proposed change to the factory's own configuration: the factory never merges"
    " those, a person does"
)


def test_config_repository_refusal_is_the_whole_decision(
    fake: FakeGitHub, repo: Repository
) -> None:
    """On the config repository (named in another case) the decision is that one refusal only."""
    number = _ready(fake)
    decision = _gate(repo, number, config_repos=["elsewhere/cfg", REPO.upper()])
    assert decision == MergeDecision(number, False, (CONFIG_REPO_REASON,))


def test_config_refusal_labels_needs_human_and_logs_it(fake: FakeGitHub, repo: Repository) -> None:
    """The refused config change gets needs-human and one pull_request_config_refused line."""
    number = _ready(fake)
    with capture_logs() as logs:
        _gate(repo, number, config_repos=[REPO])
    refused = [e for e in logs if e["event"] == "pull_request_config_refused"]
    assert (fake.labels_of(REPO, number), refused) == (
        ["needs-human"],
        [
            {
                "event": "pull_request_config_refused",
                "number": number,
                "repo": REPO,
                "log_level": "info",
            }
        ],
    )


def test_pr_from_a_proposal_branch_is_refused_as_a_proposal(
    fake: FakeGitHub, repo: Repository
) -> None:
    """A green, approved PR from a factory/config- branch is refused with the proposal reason."""
    number = _pr_with(fake, DOCS, branch="factory/config-0123abcd")
    _green(fake, number)
    _approve(fake, number)
    assert _gate(repo, number) == MergeDecision(number, False, (PROPOSAL_REASON,))


def test_pr_whose_body_carries_the_proposal_mark_is_refused(
    fake: FakeGitHub, repo: Repository
) -> None:
    """A PR from an ordinary branch whose body carries the mark is refused as a proposal."""
    main = fake.repo(REPO).git.resolve("refs/heads/main")
    assert main is not None
    fake.repo(REPO).git.create_ref("refs/heads/factory/tune", main)
    fake.commit_files(REPO, "factory/tune", DOCS, "change")
    body = "Tune it.\n\n<!-- factoryd:config-proposal -->"
    number = fake.create_pull(REPO, "factory/tune", "Tune", body, as_user=BOT).number
    _green(fake, number)
    _approve(fake, number)
    assert _gate(repo, number).reasons == (PROPOSAL_REASON,)


def test_a_branch_merely_containing_the_prefix_is_not_a_proposal(
    fake: FakeGitHub, repo: Repository
) -> None:
    """Only a branch that starts with factory/config- is a proposal's; others still merge."""
    number = _pr_with(fake, DOCS, branch="fix/factory/config-0123abcd")
    _green(fake, number)
    _approve(fake, number)
    assert _gate(repo, number, config_repos=["elsewhere/cfg"]).merged is True


# --- the merge gate: the factory's own approval (review.factory_approval_counts_for) ---------

LOW_COUNTS = {"review": {"factory_approval_counts_for": ["low"]}}


def _bot_gate(
    repo: Repository, number: int, logins: Sequence[str] = (BOT,), **policy: object
) -> MergeDecision:
    return merge_pull_request(repo, number, make_policy(**policy), factory_logins=logins)


def _bots_pr(fake: FakeGitHub, files: dict[str, str | bytes], reviewer: str = BOT) -> int:
    """A green PR bob opened that only ``reviewer`` approved."""
    number = _pr_with(fake, files, "people/z", author="bob")
    _green(fake, number)
    _approve(fake, number, reviewer)
    return number


def test_bot_approval_of_a_low_pr_merges_when_the_policy_names_low(
    fake: FakeGitHub, repo: Repository
) -> None:
    """With factory_approval_counts_for: [low] the factory's APPROVE merges a green docs PR."""
    number = _bots_pr(fake, DOCS)
    assert _bot_gate(repo, number, **LOW_COUNTS).reasons == ()


def test_bot_approval_of_a_low_pr_does_not_count_without_the_policy(
    fake: FakeGitHub, repo: Repository
) -> None:
    """Without a review policy the factory's APPROVE is no approval, whatever the tier."""
    number = _bots_pr(fake, DOCS)
    assert _bot_gate(repo, number).reasons == (
        "no approving review by a collaborator or maintainer",
    )


def test_bot_approval_of_a_medium_pr_does_not_count(fake: FakeGitHub, repo: Repository) -> None:
    """A tier that does not auto-merge never takes the factory's APPROVE as an approval."""
    number = _bots_pr(fake, {"src/app.py": "print('hello')\n"})
    reasons = _bot_gate(repo, number, **LOW_COUNTS).reasons
    assert "no approving review by a collaborator or maintainer" in reasons


def test_counted_factory_login_counts_whatever_its_association(
    fake: FakeGitHub, repo: Repository
) -> None:
    """A counted factory login's approval counts even when GitHub shows it as a mere reader."""
    number = _bots_pr(fake, DOCS, reviewer="otto")
    assert _bot_gate(repo, number, ("otto",), **LOW_COUNTS).reasons == ()


def test_a_maintainers_approval_still_counts_beside_a_counted_factory(
    fake: FakeGitHub, repo: Repository
) -> None:
    """Counting the factory's reviews does not stop a maintainer's approval from counting."""
    number = _bots_pr(fake, DOCS, reviewer="alice")
    assert _bot_gate(repo, number, **LOW_COUNTS).reasons == ()


def test_counted_factory_request_for_changes_blocks(fake: FakeGitHub, repo: Repository) -> None:
    """Where the factory's reviews count, its request for changes blocks like a person's."""
    number = _bots_pr(fake, DOCS, reviewer="alice")
    fake.review(REPO, number, "REQUEST_CHANGES", "no", as_user=BOT)
    assert _bot_gate(repo, number, **LOW_COUNTS).reasons == (f"changes requested by {BOT}",)


def test_an_uncounted_reader_is_still_ignored_when_the_factory_counts(
    fake: FakeGitHub, repo: Repository
) -> None:
    """Counting the factory's login does not make a reader's approval count."""
    number = _bots_pr(fake, DOCS, reviewer="otto")
    assert _bot_gate(repo, number, **LOW_COUNTS).reasons == (
        "no approving review by a collaborator or maintainer",
    )


# --- the merge gate: dismissed reviews ------------------------------------------------------


def _dismiss_latest_review(fake: FakeGitHub, number: int) -> None:
    """Dismiss the PR's latest review as PUT .../reviews/ID/dismissals does: state DISMISSED.

    FakeGitHub has no dismissal route, so the review's state is set where GitHub sets it.
    """
    fake.pull(REPO, number).reviews[-1].state = "DISMISSED"


def test_dismissed_request_for_changes_does_not_revive_an_earlier_approval(
    fake: FakeGitHub, repo: Repository
) -> None:
    """A reviewer's latest review dismissed is their latest: their older approval stays void."""
    number = _pr_with(fake, DOCS)
    _green(fake, number)
    _approve(fake, number)
    fake.review(REPO, number, "REQUEST_CHANGES", "no", as_user="alice")
    _dismiss_latest_review(fake, number)
    assert _gate(repo, number).reasons == ("no approving review by a collaborator or maintainer",)
