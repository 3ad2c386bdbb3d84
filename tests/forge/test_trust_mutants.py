"""Tests that kill mutants `make mutants` found alive in factory/forge/trust.py."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from factory.config.harness import TrustPolicy
from factory.forge.trust import PermissionTrust
from tests.forge.test_trust import fake_fixture, repo_fixture  # noqa: F401  (fixtures)


@pytest.mark.parametrize("ttl_s", [0.0, 0.5], ids=["zero", "half-second"])
def test_ttl_of_zero_or_under_a_second_is_accepted(repo: Any, ttl_s: float) -> None:
    """Only a negative TTL is refused: zero (never cache) and fractions are valid."""
    assert PermissionTrust(repo, TrustPolicy(), ttl_s=ttl_s).ttl_s == ttl_s


def test_forget_logs_how_many_answers_it_dropped(repo: Any) -> None:
    """``forget`` logs one permission_cache_dropped event with the number of entries."""
    trust = PermissionTrust(repo, TrustPolicy())
    trust("mallory")
    trust("factory-bot")
    with capture_logs() as logs:
        trust.forget()
    assert logs == [
        {"event": "permission_cache_dropped", "entries": 2, "log_level": "info"},
    ]
