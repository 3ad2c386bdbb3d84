"""The merge gate: merging the factory's pull requests only when the policy says so.

``merge_pull_request`` is where merges are decided — by the daemon, never by the model.
A pull request merges only when all of these hold on its current head commit:

- its risk (``factory.forge.risk.assess_risk`` over GitHub's own list of its files: old and
  new names, removals, line counts) allows auto-merge;
- its checks are green: every commit status (latest per context) is ``success`` and every
  check run (latest per name) completed as ``success``, ``neutral`` or ``skipped``, and at
  least one status or check run exists — *no checks at all is not green*, because "nothing
  ran" proves nothing; the policy's ``required_checks`` (and any the caller adds) must each
  be present and green; a combined status GitHub reports as not ``success`` while statuses
  exist blocks too (the statuses listed may be only its first page); and every check suite
  on the head (one per GitHub App) has completed green — an App makes its suite before its
  check runs exist, so a queued suite with no runs yet is pending, not absent, and a suite
  completed red blocks even when the failing runs are not in the run listing (a run's own
  reason already covers its suite);
- it is approved: taking each reviewer's latest APPROVED / CHANGES_REQUESTED / DISMISSED
  review, at least one approves the head commit and none requests changes; the factory's own
  reviews never count, except in the low-risk tiers the policy's
  ``review.factory_approval_counts_for`` names (``factory_approval_counts``);
- it is open, not a draft and GitHub does not report a conflict;
- it is not a change to the factory's own configuration, whatever its tier: not on the factory
  config repository (``config_repos``), not from a config proposal's branch, not carrying a
  proposal's mark (``factory.forge.config_proposals``). Those only a person merges.

Otherwise the policy's ``needs_human`` label is added and the decision carries every reason.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import structlog
from github.Commit import Commit
from github.GithubException import GithubException
from github.PullRequest import PullRequest
from github.Repository import Repository

from factory.config.harness import Policy
from factory.events import TRUST_ORDER
from factory.forge.config_proposals import BRANCH_PREFIX, PROPOSAL_MARK
from factory.forge.risk import RiskAssessment, assess_risk, github_changes

log = structlog.get_logger(__name__)

GREEN_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})
"""Check run conclusions that count as green."""


@dataclass(frozen=True)
class MergeDecision:
    """What ``merge_pull_request`` decided, with the reasons (shown to the model)."""

    number: int
    """The pull request."""
    merged: bool
    """Whether it was merged now."""
    reasons: tuple[str, ...]
    """Why it was not merged (empty when merged)."""
    risk: RiskAssessment | None = None
    """Its risk assessment (None when it was not open)."""
    merge_sha: str | None = None
    """The merge commit, when merged."""

    def summary(self) -> str:
        """Return one human-readable paragraph: merged, or not and why."""
        if self.merged:
            return f"pull request #{self.number} was merged ({self.merge_sha})"
        return f"pull request #{self.number} was not merged: " + "; ".join(self.reasons)


def _suite_reasons(commit: Commit, explained: Collection[int]) -> list[str]:
    """Why the head's check suites are not green, skipping suites in ``explained``.

    ``explained`` holds the suites of listed runs already reported as not green.
    """
    reasons: list[str] = []
    for suite in commit.get_check_suites():
        if suite.id in explained:
            continue
        outcome = suite.conclusion if suite.status == "completed" else suite.status
        if outcome not in GREEN_CONCLUSIONS:
            app = suite.app.slug if suite.app is not None else f"#{suite.id}"
            reasons.append(f"check suite of {app} is {outcome or 'pending'}")
    return list(dict.fromkeys(reasons))


def _check_reasons(repo: Repository, sha: str, required: Collection[str]) -> list[str]:
    commit = repo.get_commit(sha)
    states: dict[str, str] = {}
    combined = commit.get_combined_status()
    for status in combined.statuses:
        states[status.context] = status.state
    latest_runs: dict[str, tuple[int, str, int]] = {}
    for run in commit.get_check_runs():
        if run.name not in latest_runs or run.id > latest_runs[run.name][0]:
            outcome = run.conclusion if run.status == "completed" else run.status
            latest_runs[run.name] = (run.id, outcome or "pending", run.check_suite.id)
    reasons = [f"status {c!r} is {s}" for c, s in sorted(states.items()) if s != "success"]
    if states and not reasons and combined.state != "success":
        reasons.append(f"the combined commit status is {combined.state}")
    for name, (_, outcome, _) in sorted(latest_runs.items()):
        if outcome not in GREEN_CONCLUSIONS:
            reasons.append(f"check {name!r} is {outcome}")
    explained = {
        suite for _, outcome, suite in latest_runs.values() if outcome not in GREEN_CONCLUSIONS
    }
    reasons += _suite_reasons(commit, explained)
    if not states and not latest_runs:
        reasons.append("no checks have run on the head commit")
    present = {*states, *latest_runs}
    reasons += [f"required check {n!r} has not run" for n in sorted(set(required) - present)]
    return reasons


def _review_reasons(
    pr: PullRequest,
    head_sha: str,
    policy: Policy,
    ignored: Collection[str],
    counted: Collection[str] = (),
) -> list[str]:
    """Why the reviews do not allow a merge: only trusted people's reviews count.

    A review counts when its author is a collaborator or maintainer (by author association,
    per the policy) and is not one of ``ignored`` (the factory's own logins): on a public
    repository anyone may leave an approving review, and the factory must not approve itself.
    ``counted`` are factory logins whose reviews count anyway (the policy's ``review:``).
    """
    latest: dict[str, tuple[str, str]] = {}
    for review in pr.get_reviews():
        if review.state not in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED") or not review.user:
            continue
        trust = policy.trust.trust_of(review.author_association)
        login = review.user.login
        trusted = login in counted or TRUST_ORDER[trust] >= TRUST_ORDER["collaborators"]
        if (login in ignored and login not in counted) or not trusted:
            continue
        latest[login] = (review.state, review.commit_id)
    blocking = sorted(u for u, (state, _) in latest.items() if state == "CHANGES_REQUESTED")
    if blocking:
        return [f"changes requested by {', '.join(blocking)}"]
    approvals = [u for u, (state, sha) in latest.items() if state == "APPROVED" and sha == head_sha]
    if not approvals:
        stale = any(state == "APPROVED" for state, _ in latest.values())
        return [
            "approved only on an older commit"
            if stale
            else "no approving review by a collaborator or maintainer"
        ]
    return []


def factory_approval_counts(policy: Policy, risk: RiskAssessment) -> bool:
    """Whether the factory's own APPROVE review counts for a change of ``risk`` (default no).

    Only for a tier ``review.factory_approval_counts_for`` names, and only while that tier
    auto-merges: medium and high risk always need a person's approval.
    """
    return risk.auto_merge and risk.tier in policy.review.factory_approval_counts_for


def _own_config_reason(
    repo: Repository, pr: PullRequest, config_repos: Collection[str]
) -> str | None:
    """Why ``pr`` changes the factory's own configuration, or None."""
    if repo.full_name.lower() in {name.lower() for name in config_repos}:
        return (
            f"{repo.full_name} is the factory's own config repository: the factory never merges"
            " a change to its own configuration, a person does"
        )
    if pr.head.ref.startswith(BRANCH_PREFIX) or PROPOSAL_MARK in (pr.body or ""):
        return (
            "it is a proposed change to the factory's own configuration: the factory never"
            " merges those, a person does"
        )
    return None


def merge_pull_request(
    repo: Repository,
    number: int,
    policy: Policy,
    method: str = "squash",
    *,
    required_checks: Collection[str] = (),
    factory_logins: Collection[str] = (),
    config_repos: Collection[str] = (),
) -> MergeDecision:
    """Merge pull request ``number`` if the policy allows it (see the module docstring).

    When it does not, adds ``policy.labels.needs_human`` and returns the refusal with every
    reason; a merge GitHub refuses (conflict, head moved: 405/409) is a refusal too.
    Returns the MergeDecision. Raises GithubException for other GitHub failures.
    """
    pr = repo.get_pull(number)
    if pr.state != "open" or pr.merged:
        why = "it is already merged" if pr.merged else f"it is {pr.state}"
        return MergeDecision(number, False, (why,))
    own = _own_config_reason(repo, pr, config_repos)
    if own is not None:
        pr.add_to_labels(policy.labels.needs_human)
        log.info("pull_request_config_refused", number=number, repo=repo.full_name)
        return MergeDecision(number, False, (own,))
    head_sha = pr.head.sha
    risk = assess_risk(github_changes(pr.get_files()), policy)
    reasons = list(risk.reasons)
    if pr.draft:
        reasons.append("it is a draft")
    if pr.mergeable is False:
        reasons.append("it has merge conflicts with its base")
    reasons += _check_reasons(repo, head_sha, {*policy.required_checks, *required_checks})
    # The factory's own approval counts only in the low-risk tiers the policy names.
    counted = factory_logins if factory_approval_counts(policy, risk) else ()
    reasons += _review_reasons(pr, head_sha, policy, factory_logins, counted)
    if not reasons:
        try:
            status = pr.merge(merge_method=method, sha=head_sha)
        except GithubException as exc:
            if exc.status not in (405, 409):
                raise
            reasons.append(f"GitHub refused the merge ({exc.status}): {exc.data}")
        else:
            if status.merged:
                log.info("pull_request_merged", number=number, sha=status.sha, tier=risk.tier)
                return MergeDecision(number, True, (), risk, status.sha)
            reasons.append(f"GitHub did not merge it: {status.message}")
    pr.add_to_labels(policy.labels.needs_human)
    log.info("pull_request_needs_human", number=number, tier=risk.tier, reasons=len(reasons))
    return MergeDecision(number, False, tuple(reasons), risk)
