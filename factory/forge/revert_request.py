"""The ``revert_pull_request`` request: what the agent sends and what the gate prepares.

The performer (``factory.forge.revert_output``) makes the revert with git and opens it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from factory.config.outputs_config import RevertPullRequestOutput
from factory.forge.sanitize import BODY_CAP, cap_text, sanitize_body

if TYPE_CHECKING:
    from factory.forge.output_requests import RunContext

KIND = "revert_pull_request"
REVERT_PREFIX = "factory/revert-"
"""Branches of revert pull requests (a revert is never reverted by the factory)."""
REASON_CAP = 4000
"""Characters of the agent's reason kept in the revert's body."""


class RevertPullRequestRequest(BaseModel):
    """Revert a merged pull request (the daemon makes the revert commit and its pull request)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    pull_number: int = Field(ge=1)
    """The merged pull request to revert."""
    reason: str = Field(min_length=1)
    """Why: what failed after the merge (goes in the revert's description)."""


def revert_branch(number: int) -> str:
    """Return the branch a revert of pull request ``number`` is pushed to."""
    return f"{REVERT_PREFIX}pr-{number}"


def prepare_revert(
    request: RevertPullRequestRequest,
    ctx: RunContext,
    config: RevertPullRequestOutput,
    notes: list[str],
    created: Collection[int],
) -> dict[str, Any]:
    """Return the payload of a revert: the pull request, the reason, labels and filed issues."""
    reason = sanitize_body(request.reason, ctx.secrets, limit=BODY_CAP * 4)
    if len(reason) > REASON_CAP:
        notes.append(f"the reason was truncated to {REASON_CAP} characters")
    return {
        "pull_number": request.pull_number,
        "reason": cap_text(reason, REASON_CAP),
        "labels": list(config.labels),
        "issues": sorted(set(created)),
    }
