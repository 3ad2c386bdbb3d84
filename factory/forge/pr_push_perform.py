"""The performer of ``push_to_pull_request`` (checks and request: ``factory.forge.pr_push``).

``perform`` re-checks ownership, finds a commit an earlier attempt pushed (its key trailer)
before anything else, then checks staleness and the attempt limits, exports the patch from
the sandbox and pushes it (``factory.forge.pr_push_git``; a conflicted merge workspace's
patch completes the merge commit instead: ``factory.forge.pr_merge_push``), and comments on
the PR (once, by marker) with what was pushed and that CI may not start by itself. ``find``
writes nothing: it answers only when both the commit and the comment are there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from github.IssueComment import IssueComment
from github.PullRequest import PullRequest

from factory.config.outputs_config import PushToPullRequestOutput
from factory.crashpoints import crashpoint
from factory.errors import OutputRefused
from factory.forge.markers import append_marker, has_marker
from factory.forge.output_performers import Applied, OutputPerformer
from factory.forge.output_requests import PreparedOutput, RunContext
from factory.forge.pr_merge_push import push_resolution
from factory.forge.pr_push import ATTEMPT_LIMIT, CI_NOTE, KIND, attempts, owned_pull
from factory.forge.pr_push_git import find_pushed, push_onto, stale_reason
from factory.workspace import export_patch
from factory.workspace.merge_workspace import MergeWorkspace

if TYPE_CHECKING:
    from factory.forge.pr_output import PullRequestSide


def _target(prepared: PreparedOutput) -> int:
    if prepared.target is None:
        raise OutputRefused(f"{KIND}: the request has no pull request")
    return prepared.target


def push_performers(
    side: PullRequestSide, config: PushToPullRequestOutput | None
) -> Mapping[str, OutputPerformer]:
    """Return the ``push_to_pull_request`` performer bound to the run's ``side``."""
    limits = config or PushToPullRequestOutput()

    def scratch(ctx: RunContext) -> Path:
        digest = hashlib.sha256(ctx.scope.encode()).hexdigest()[:12]
        return side.data_dir / "patches" / f"find-{digest}"

    def comment_of(ctx: RunContext, number: int, key: str) -> IssueComment | None:
        for comment in ctx.repo.get_issue(number).get_comments():
            if has_marker(comment.body, key):
                return comment
        return None

    def give_up(ctx: RunContext, pull: PullRequest, why: str) -> None:
        label = side.policy.labels.needs_human
        key = f"{KIND}:needs-human:{pull.number}"
        issue = ctx.repo.get_issue(pull.number)
        if comment_of(ctx, pull.number, key) is None:
            body = (
                f"The factory stopped trying to fix this pull request: {why}.\n\n"
                f"Head: `{pull.head.sha[:12]}` on `{pull.head.ref}`. A person needs to look"
                " at the failing checks or review comments; the factory will not push here"
                f" again until the head changes or `{label}` is removed."
            )
            issue.create_comment(append_marker(body, ctx.run_id, key))
        issue.add_to_labels(label)

    def perform(ctx: RunContext, prepared: PreparedOutput, key: str) -> Applied:
        number = _target(prepared)
        payload = prepared.payload
        pull = owned_pull(ctx, number)
        branch = str(payload["branch"])
        if pull.head.ref != branch:
            raise OutputRefused(f"{KIND}: #{number}'s branch changed to {pull.head.ref!r}")
        auth = side.auth_header()
        sha = find_pushed(
            side.mirror.remote_url, branch, key, scratch=scratch(ctx), auth_header=auth
        )
        if sha is None:
            sha = push_new(ctx, pull, payload, key, auth)
        if comment_of(ctx, number, key) is None:
            body = f"{payload['summary']}\n\nPushed `{sha[:12]}` to `{branch}`.\n\n{CI_NOTE}"
            ctx.repo.get_issue(number).create_comment(append_marker(body.strip(), ctx.run_id, key))
        return Applied(pull.html_url, {"number": number, "branch": branch, "head_sha": sha})

    def push_new(
        ctx: RunContext, pull: PullRequest, payload: dict[str, Any], key: str, auth: str | None
    ) -> str:
        workspace, sandbox = side.workspace, side.sandbox
        if workspace is None or sandbox is None:
            raise OutputRefused(f"{KIND}: this run has no workspace to take a change from")
        merge = workspace if isinstance(workspace, MergeWorkspace) else None
        started = merge.head_sha if merge else workspace.base_sha
        if payload["head_sha"] != started or pull.head.sha != started:
            raise OutputRefused(stale_reason(pull.head.ref, started, pull.head.sha))
        on_head, total = attempts(ctx, pull.number, started, key)
        if on_head >= limits.max_attempts_per_head or total >= limits.max_attempts_per_pr:
            why = (
                f"{on_head} attempts on head {started[:12]} (at most"
                f" {limits.max_attempts_per_head}), {total} on the pull request (at most"
                f" {limits.max_attempts_per_pr})"
            )
            give_up(ctx, pull, why)
            raise OutputRefused(f"{ATTEMPT_LIMIT} reached: {why}; labelled for a human")
        patch = export_patch(workspace, sandbox)
        if not patch:
            raise OutputRefused(f"{KIND}: the workspace has no change to push")
        if merge is not None:  # the resolution completes the conflicted merge commit
            resolved = push_resolution(
                patch,
                mirror=side.mirror,
                branch=pull.head.ref,
                head_sha=started,
                base_sha=merge.merge_base_sha,
                message=str(payload["message"]),
                key=key,
                identity=side.identity,
                policy=side.policy,
                data_dir=side.data_dir,
                run_id=ctx.run_id,
                auth_header=auth,
            )
            crashpoint("pr_after_push")
            return resolved.sha
        pushed = push_onto(
            patch,
            mirror=side.mirror,
            branch=pull.head.ref,
            head_sha=started,
            message=str(payload["message"]),
            key=key,
            identity=side.identity,
            policy=side.policy,
            data_dir=side.data_dir,
            run_id=ctx.run_id,
            auth_header=auth,
        )
        crashpoint("pr_after_push")  # the same point as open_pull_request's push
        return pushed.sha

    def find(
        ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
    ) -> Applied | None:
        number = _target(prepared)
        branch = str(prepared.payload["branch"])
        sha = find_pushed(
            side.mirror.remote_url,
            branch,
            key,
            scratch=scratch(ctx),
            auth_header=side.auth_header(),
        )
        if sha is None or comment_of(ctx, number, key) is None:
            return None
        pull = ctx.repo.get_pull(number)
        return Applied(pull.html_url, {"number": number, "branch": branch, "head_sha": sha})

    return {KIND: OutputPerformer(perform, find)}
