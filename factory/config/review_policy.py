"""The ``tests:`` and ``review:`` sections of ``harness/policy.yaml``.

``tests`` names how the target repository's tests run: the daemon runs ``command`` (with
``sh -c``, in the sandbox, no network) to check that a bug fix reproduces its bug before the
pull request is opened (``open_pull_request: {require_failing_test: true}``): with only the
change's files matching ``paths`` applied on the base it must fail, with the whole change it
must pass.

``review`` says whether the factory's own approving review (the PR reviewer's ``APPROVE``)
counts for the merge gate. By default it never does: a person approves. Naming tiers in
``factory_approval_counts_for`` lets it count for those tiers only; each must be a tier that
auto-merges and asks for no human, and never the last (catch-all) tier.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from factory.config.durations import PositiveDuration
from factory.config.globs import Globs
from factory.config.risk import RiskTier

DEFAULT_TEST_PATHS = [
    "tests/**",
    "test/**",
    "**/tests/**",
    "**/test_*.py",
    "**/*_test.py",
    "**/*_test.go",
    "**/*.test.*",
    "**/*.spec.*",
]
"""Where tests live unless the policy says otherwise."""


class TestsPolicy(BaseModel):
    """How the repository's tests run (for the bug fixer's reproduction check)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str | None = None
    """Shell command that runs the tests, exit 0 when they pass (None: no check possible)."""
    paths: Globs = Field(default_factory=lambda: list(DEFAULT_TEST_PATHS))
    """Globs of the test files: a change's files matching them are its test part."""
    timeout: PositiveDuration = 600
    """Time limit of one run of ``command``."""


class ReviewPolicy(BaseModel):
    """Whether the factory's own approval counts for the merge gate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    factory_approval_counts_for: list[str] = Field(default_factory=list)
    """Risk tiers in which the factory's APPROVE review counts as an approval (default none)."""


def review_tier_problem(review: ReviewPolicy, tiers: Mapping[str, RiskTier]) -> str | None:
    """Return why ``review`` names a tier it may not (unknown, not low-risk), or None."""
    last = list(tiers)[-1] if tiers else None
    for name in review.factory_approval_counts_for:
        tier = tiers.get(name)
        if tier is None:
            return f"review.factory_approval_counts_for names unknown risk tier {name!r}"
        if name == last or not tier.auto_merge or tier.needs_human:
            return (
                f"review.factory_approval_counts_for may name only low-risk tiers (auto_merge,"
                f" no needs_human, not the last): {name!r} is not one"
            )
    return None
