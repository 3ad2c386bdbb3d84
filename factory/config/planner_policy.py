"""The ``planner:`` section of ``harness/policy.yaml``: how far the planner may go.

The planner refines, splits and prioritises issues; whether it may also *approve* them (put
the policy's ready label, ``factory:ready``, so that the builder takes them) is the
maintainers' call: ``approve`` is false by default, and the planner's issues then wait for a
maintainer's label.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PlannerPolicy(BaseModel):
    """What the planner may decide on its own."""

    model_config = ConfigDict(extra="forbid")

    automation: str = "planner"
    """The automation that plans (its runs are the ones ``approve`` applies to)."""
    approve: bool = False
    """Let the planner's runs put the approval label on the issues they refine or file."""
