"""The ``verifier:`` section of ``harness/policy.yaml``: what the post-merge verifier may undo.

When the smoke checks fail on a merged commit, the verifier files an issue linked to the
pull request and, when ``revert`` is true, asks for a ``revert_pull_request``: the daemon
makes the revert with git and opens it as a pull request. Only a pull request the factory
opened *and* merged is reverted, unless ``human_merges`` is true. A revert pull request is
risk-tiered like any change and labelled needs-human (never merged by the factory) unless
``auto_merge`` is true, in which case its risk tier decides as for any other change.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class VerifierPolicy(BaseModel):
    """What the post-merge verifier may revert."""

    model_config = ConfigDict(extra="forbid")

    revert: bool = True
    """Open a revert pull request when the smoke checks fail on a merge."""
    human_merges: bool = False
    """Also revert pull requests a person opened or merged (off: only the factory's own)."""
    auto_merge: bool = False
    """Let a revert pull request merge under the risk tiers (off: it is labelled needs-human)."""
