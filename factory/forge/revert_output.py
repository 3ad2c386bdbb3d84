"""The ``revert_pull_request`` performer: the agent asks, the daemon reverts with git.

The agent (the post-merge verifier) sends ``{pull_number, reason}``. The gate prepares the
reason (sanitized, capped) and the issues the run filed (the revert's body links them). The
performer then, in a clone the daemon owns:

- refuses unless the policy's ``verifier.revert`` is true, the pull request is merged, and
  the factory opened *and* merged it (``verifier.human_merges`` lifts the last rule);
- reverts the merge on the tip of the pull request's base branch — ``git revert -m 1`` for a
  merge commit, the range of the pull request's N commits for a rebase merge (told by the N
  commits before the merge sha carrying the subjects of the pull request's N commits), else
  the single commit (a squash) — and
  pushes it to ``factory/revert-pr-<N>``: one branch per reverted pull request, so a re-run
  (a crash, a second verifier run) finds the revert by its branch and never opens another;
- opens the pull request (title ``Revert "<title>"``, body linking the original pull request
  and the issues, the hidden marker), risk-tiered like any change, and labelled needs-human
  unless ``verifier.auto_merge`` is true. It never merges it.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from github.PullRequest import PullRequest

from factory.crashpoints import crashpoint
from factory.errors import GitError, OutputFailed, OutputRefused
from factory.forge.output_performers import Applied, OutputPerformer
from factory.forge.patches import PushedBranch, _push, _staged, clean_message
from factory.forge.pulls import find_pull_request, open_pull_request
from factory.forge.revert_request import KIND, REVERT_PREFIX, revert_branch
from factory.forge.risk import assess_risk, branch_changes
from factory.forge.sanitize import sanitize_body, sanitize_title
from factory.workspace.gitutil import git_out, run_git

if TYPE_CHECKING:
    from factory.forge.output_requests import PreparedOutput, RunContext
    from factory.forge.pr_output import PullRequestSide

log = structlog.get_logger(__name__)

REVERTS_DIR = "reverts"
"""Under the data dir: the clones reverts are made in (removed afterwards)."""


def _login(user: Any) -> str:
    login = getattr(user, "login", None) if user is not None else None
    return str(login) if login else "unknown"


def check_revertible(pull: PullRequest, ctx: RunContext, human_merges: bool) -> None:
    """Raise OutputRefused unless ``pull`` is merged, is not itself a revert, and (without
    ``human_merges``) was opened and merged by the factory's login."""
    number = pull.number
    if not pull.merged or not pull.merge_commit_sha:
        raise OutputRefused(f"{KIND}: #{number} is not merged: only a merged change is reverted")
    if pull.head.ref.startswith(REVERT_PREFIX):
        raise OutputRefused(
            f"{KIND}: #{number} is itself a revert: the factory does not revert a revert,"
            " a person decides"
        )
    if human_merges:
        return
    bot = (ctx.bot_login or "").lower()
    opened, merged = _login(pull.user), _login(pull.merged_by)
    if not bot or opened.lower() != bot or merged.lower() != bot:
        raise OutputRefused(
            f"{KIND}: #{number} was opened by {opened} and merged by {merged}, not by the"
            " factory: the policy's verifier.human_merges is false, so a person decides"
        )


def _parents(clone: Path, sha: str) -> list[str]:
    return git_out(["rev-list", "--parents", "-n1", sha], cwd=clone).split()[1:]


def _subjects(clone: Path, sha: str, count: int) -> list[str]:
    out = git_out(["log", f"-n{count}", "--format=%s%x00", sha], cwd=clone)
    return [line.strip() for line in out.split("\0") if line.strip()]


def _what(clone: Path, pull: PullRequest, merge_sha: str) -> list[str]:
    """Return what ``git revert`` takes for ``pull``'s merge: ``-m 1 <sha>`` for a merge
    commit; for a rebase merge of N commits (the N commits before the merge sha carry the
    subjects of the pull request's N commits) the range ``<sha>~N..<sha>``; else (a squash,
    or a rebase of one commit) the single commit."""
    if len(_parents(clone, merge_sha)) > 1:
        return ["-m", "1", merge_sha]
    count = int(pull.commits or 1)
    head = str(pull.head.sha)
    if (
        count > 1
        and run_git(["cat-file", "-e", f"{head}^{{commit}}"], cwd=clone, check=False).returncode
        == 0
    ):
        mine = _subjects(clone, merge_sha, count)
        if len(mine) == count and mine == _subjects(clone, head, count):
            return [f"{merge_sha}~{count}..{merge_sha}"]
    return [merge_sha]


def make_revert(
    side: PullRequestSide, ctx: RunContext, pull: PullRequest, branch: str, message: str
) -> PushedBranch:
    """Commit the revert of ``pull``'s merge on its base branch's tip and push ``branch``.

    Raises OutputFailed when the revert does not apply cleanly or changes nothing (already
    reverted); GitError when git itself fails.
    """
    side.mirror.fetch()
    _, base_sha = side.mirror.resolve(pull.base.ref)
    merge_sha = str(pull.merge_commit_sha)
    clone = Path(side.data_dir) / REVERTS_DIR / ctx.run_id
    shutil.rmtree(clone, ignore_errors=True)
    clone.parent.mkdir(parents=True, exist_ok=True)
    identity = {"user.name": side.identity.name, "user.email": side.identity.email}
    try:
        with side.mirror.reading() as mirror_path:
            run_git(
                [
                    "clone",
                    "--no-checkout",
                    "--quiet",
                    "--no-tags",
                    "--",
                    str(mirror_path),
                    str(clone),
                ]
            )
        run_git(["checkout", "--quiet", "--detach", base_sha], cwd=clone)
        proc = run_git(
            ["revert", "--no-commit", *_what(clone, pull, merge_sha)],
            cwd=clone,
            config=identity,
            check=False,
        )
        if proc.returncode != 0:
            why = proc.stderr.decode("utf-8", "replace").strip()[-500:]
            raise OutputFailed(
                f"{KIND}: the merge {merge_sha[:12]} of #{pull.number} does not revert cleanly"
                f" on {pull.base.ref}: {why}"
            )
        tree = git_out(["write-tree"], cwd=clone)
        if tree == git_out(["rev-parse", f"{base_sha}^{{tree}}"], cwd=clone):
            raise OutputFailed(
                f"{KIND}: reverting #{pull.number} changes nothing on {pull.base.ref}"
            )
        files = _staged(clone, base_sha)
        commit = run_git(
            ["commit-tree", tree, "-p", base_sha, "-F", "-"],
            cwd=clone,
            input=clean_message(message, ctx.run_id).encode(),
            config=identity,
        )
        sha = commit.stdout.decode().strip()
        sha = _push(clone, side.mirror.remote_url, branch, sha, base_sha, side.auth_header())
    finally:
        shutil.rmtree(clone, ignore_errors=True)
    log.info("revert_pushed", run_id=ctx.run_id, number=pull.number, branch=branch, sha=sha)
    return PushedBranch(branch=branch, sha=sha, base_sha=base_sha, files=tuple(files))


def _body(pull: PullRequest, payload: Mapping[str, Any]) -> str:
    lines = [f"Reverts #{pull.number} (merge {str(pull.merge_commit_sha)[:12]})."]
    issues = payload.get("issues") or []
    if issues:
        lines.append("Verification failure: " + ", ".join(f"#{n}" for n in issues))
    lines += ["", "**Why**", "", str(payload["reason"])]
    return "\n".join(lines)


def revert_performer(side: PullRequestSide) -> OutputPerformer:
    """Return the ``revert_pull_request`` performer bound to ``side`` (mirror and policy)."""

    def perform(ctx: RunContext, prepared: PreparedOutput, key: str) -> Applied:
        verifier = side.policy.verifier
        if not verifier.revert:
            raise OutputRefused(f"{KIND}: the policy's verifier.revert is false")
        payload = prepared.payload
        pull = ctx.repo.get_pull(int(payload["pull_number"]))
        check_revertible(pull, ctx, verifier.human_merges)
        branch = revert_branch(pull.number)
        found = find_pull_request(ctx.repo, branch, key)
        if found is not None:  # another run's revert of the same pull request
            applied = _applied(found, pull.number, found.head.sha)
            return Applied(applied.url, {**applied.result, "issues": payload.get("issues") or []})
        title = sanitize_title(f'Revert "{pull.title}"', ctx.secrets)
        body = sanitize_body(_body(pull, payload), ctx.secrets)
        try:
            pushed = make_revert(side, ctx, pull, branch, f"{title}\n\n{body}")
        except GitError as exc:
            raise OutputFailed(f"{KIND}: git failed making the revert: {exc}") from None
        crashpoint("pr_after_push")  # pushed, no pull request yet: a retry reuses the branch
        risk = assess_risk(branch_changes(pushed), side.policy)
        labels = list(payload.get("labels", []))
        if not verifier.auto_merge:
            labels.append(side.policy.labels.needs_human)
        opened = open_pull_request(
            ctx.repo,
            pushed,
            title=title,
            body=body,
            issue_number=None,
            labels=labels,
            draft=False,
            run_id=ctx.run_id,
            key=key,
            base=pull.base.ref,
            secrets=ctx.secrets,
            risk=risk,
        )
        applied = _applied(opened, pull.number, pushed.sha)
        extra = {"risk_tier": risk.tier, "issues": list(payload.get("issues") or [])}
        return Applied(applied.url, {**applied.result, **extra})

    def find(
        ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
    ) -> Applied | None:
        number = int(prepared.payload["pull_number"])
        found = find_pull_request(ctx.repo, revert_branch(number), key)
        if found is None:
            return None
        applied = _applied(found, number, found.head.sha)
        return Applied(applied.url, {**applied.result, "issues": prepared.payload["issues"]})

    return OutputPerformer(perform, find)


def _applied(pull: PullRequest, reverted: int, head_sha: str) -> Applied:
    result = {"number": pull.number, "reverts": reverted, "branch": pull.head.ref}
    return Applied(pull.html_url, {**result, "head_sha": head_sha})
