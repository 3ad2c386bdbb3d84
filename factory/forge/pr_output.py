"""Performers for ``open_pull_request`` and ``merge_pull_request``, bound to one run.

Opening a pull request is where the agent's work leaves the sandbox: the patch is exported
*inside* the sandbox (``export_patch``), applied, policy-checked and committed in a clone
the daemon owns (``apply_patch``), pushed to a branch named after the subject and the run's
key scope — stable across retries of the same run — and the PR is opened or found again
(``open_pull_request``). Merging is decided by the policy (``merge_pull_request``), never
by the model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from factory.config.harness import Policy
from factory.config.outputs_config import MergePullRequestOutput, OpenPullRequestOutput
from factory.crashpoints import crashpoint
from factory.errors import OutputRefused
from factory.forge.merge_gate import merge_pull_request
from factory.forge.output_performers import Applied, OutputPerformer
from factory.forge.output_requests import PreparedOutput, RunContext
from factory.forge.patches import Identity, apply_patch, branch_name
from factory.forge.pulls import find_pull_request, open_pull_request
from factory.forge.reproduce import check_reproduction
from factory.forge.risk import assess_risk, branch_changes
from factory.interfaces import Sandbox, SandboxLimits
from factory.workspace import Mirror, Workspace, export_patch

FACTORY_IDENTITY = Identity("factoryd", "factoryd@users.noreply.github.com")
"""The commit identity of the factory's own commits."""


@dataclass(frozen=True)
class PullRequestSide:
    """What opening and merging need beyond the RunContext: the run's workspace and policy."""

    workspace: Workspace | None
    sandbox: Sandbox | None
    mirror: Mirror
    policy: Policy
    data_dir: Path
    subject_slug: str
    """e.g. "issue-12": names the branch."""
    open_config: OpenPullRequestOutput | None
    merge_config: MergePullRequestOutput | None
    auth_header: Callable[[], str | None] = lambda: None
    identity: Identity = FACTORY_IDENTITY
    config_repos: frozenset[str] = frozenset()
    """``owner/name`` (lower case) of the factory config repository: never merged there."""
    sandbox_limits: SandboxLimits = field(default_factory=SandboxLimits)
    """The automation's sandbox limits (the reproduction check's test runs use them)."""


def _branch(side: PullRequestSide, ctx: RunContext) -> str:
    # One branch per subject and key scope: every attempt of a run pushes to the same one.
    return branch_name(side.subject_slug, hashlib.sha256(ctx.scope.encode()).hexdigest()[:8])


def pull_request_performers(side: PullRequestSide) -> Mapping[str, OutputPerformer]:
    """Return the open/merge performers bound to ``side`` (add them to the gate's mapping)."""

    def perform_open(ctx: RunContext, prepared: PreparedOutput, key: str) -> Applied:
        if side.workspace is None or side.sandbox is None or side.open_config is None:
            raise OutputRefused(
                "open_pull_request: this run has no workspace to take a change from "
                "(an interrupted run's retry will redo it)"
            )
        patch = export_patch(side.workspace, side.sandbox)
        if not patch:
            raise OutputRefused("open_pull_request: the workspace has no change to propose")
        payload = prepared.payload
        body = payload["body"]
        reproduced: dict[str, object] = {}
        if side.open_config.require_failing_test:
            # Red before, green after, seen by the daemon in the sandbox (factory.forge.reproduce).
            repro = check_reproduction(
                patch,
                mirror=side.mirror,
                base_sha=side.workspace.base_sha,
                sandbox=side.sandbox,
                tests=side.policy.tests,
                limits=side.sandbox_limits,
                data_dir=side.data_dir,
                run_id=ctx.run_id,
            )
            body = f"{body}\n\n{repro.note(side.workspace.base_sha)}"
            reproduced = {"reproduced": {"test_files": list(repro.test_files)}}
        crashpoint("pr_before_push")
        pushed = apply_patch(
            patch,
            source=side.mirror,
            base_sha=side.workspace.base_sha,
            branch=_branch(side, ctx),
            message=f"{payload['title']}\n\n{payload['body']}",
            identity=side.identity,
            policy=side.policy,
            data_dir=side.data_dir,
            run_id=ctx.run_id,
            auth_header=side.auth_header(),
        )
        crashpoint("pr_after_push")
        # The tier is decided now, from what was pushed: a risky change asks for a human
        # (needs-human) from the start, not only when a merge is requested.
        risk = assess_risk(branch_changes(pushed), side.policy)
        # The gate prepared the final title (prefixed, sanitized), body, labels and draft.
        pull = open_pull_request(
            ctx.repo,
            pushed,
            title=payload["title"],
            body=body,
            issue_number=ctx.subject,
            labels=list(payload.get("labels", [])),
            draft=bool(payload.get("draft", False)),
            run_id=ctx.run_id,
            key=key,
            secrets=ctx.secrets,
            risk=risk,
        )
        crashpoint("pr_after_open")
        # head_sha: the commit the factory pushed, so an outcome can tell a person's later push.
        result = {"number": pull.number, "branch": pushed.branch, "head_sha": pushed.sha}
        return Applied(pull.html_url, {**result, "risk_tier": risk.tier, **reproduced})

    def find_open(
        ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
    ) -> Applied | None:
        pull = find_pull_request(ctx.repo, _branch(side, ctx), key)
        if pull is None:
            return None
        return Applied(pull.html_url, {"number": pull.number, "head_sha": pull.head.sha})

    def perform_merge(ctx: RunContext, prepared: PreparedOutput, key: str) -> Applied:
        if ctx.subject is None:
            raise OutputRefused("merge_pull_request: this run has no pull request subject")
        method = side.merge_config.method if side.merge_config else "squash"
        decision = merge_pull_request(
            ctx.repo,
            ctx.subject,
            side.policy,
            method,
            required_checks=side.policy.required_checks,
            factory_logins=[ctx.bot_login] if ctx.bot_login else [],
            config_repos=side.config_repos,
        )
        if not decision.merged:
            raise OutputRefused(f"merge_pull_request: {decision.summary()}")
        return Applied(
            ctx.repo.get_pull(ctx.subject).html_url,
            {"number": ctx.subject, "merge_sha": decision.merge_sha},
        )

    def find_merge(
        ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
    ) -> Applied | None:
        if ctx.subject is None:
            return None
        pull = ctx.repo.get_pull(ctx.subject)
        return Applied(pull.html_url, {"number": pull.number}) if pull.merged else None

    return {
        "open_pull_request": OutputPerformer(perform_open, find_open),
        "merge_pull_request": OutputPerformer(perform_merge, find_merge),
    }
