"""The ``sentry:`` section of ``harness/policy.yaml``: how far the factory closes the loop.

When a pull request linked to a GitHub issue that came from a Sentry issue merges, the
daemon resolves the Sentry issue in the next release (``resolve_on_merge``). When Sentry
then reports the issue unresolved (a regression), the daemon reopens the GitHub issue with
a comment and the loop runs again — at most ``max_reopens`` times; the regression after
that labels the issue ``needs-human`` instead. Sentry content is data: an issue the
incident responder files is approved (labelled ``factory:ready``) only when ``approve``
is true, which lets a run that Sentry started add the approval label.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SentryPolicy(BaseModel):
    """Closing the loop with Sentry."""

    model_config = ConfigDict(extra="forbid")

    resolve_on_merge: bool = True
    """Resolve the Sentry issue (``resolvedInNextRelease``) when a linked PR merges."""
    max_reopens: int = Field(default=2, ge=0)
    """Regressions that reopen the GitHub issue and re-enter the loop; the next one gets
    ``needs-human``."""
    approve: bool = False
    """Let a run Sentry started put the approval label on the issue it files."""
