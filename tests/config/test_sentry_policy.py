"""The ``sentry:`` section of policy.yaml: resolve on merge, a bounded number of reopenings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from factory.config.harness import load_harness
from factory.config.sentry_policy import SentryPolicy

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_policy_resolves_on_merge_reopens_twice_and_does_not_approve() -> None:
    """The shipped policy closes the loop, reopens at most twice, and leaves approval to people."""
    policy = load_harness(ROOT / "harness").policy.sentry
    assert (policy.resolve_on_merge, policy.max_reopens, policy.approve) == (True, 2, False)


def test_negative_reopenings_are_refused() -> None:
    """A negative ``max_reopens`` is a configuration error, not "never"."""
    with pytest.raises(ValidationError, match="max_reopens"):
        SentryPolicy(max_reopens=-1)


def test_unknown_key_is_refused() -> None:
    """A misspelt key is refused rather than ignored."""
    with pytest.raises(ValidationError, match="resolve_on_merg"):
        SentryPolicy.model_validate({"resolve_on_merg": False})
