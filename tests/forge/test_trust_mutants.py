"""Tests that kill mutants `make mutants` found alive in factory/forge/trust.py."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from factory.config.harness import TrustPolicy
from factory.forge.trust import (
    PermissionTrust,
    authored_association,
    label_applier,
    sender_trust,
)
from factory.testing.fake_github import FakeGitHub
from tests.forge.test_trust import REPO, fake_fixture, repo_fixture  # noqa: F401  (fixtures)


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


def _ours(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The log lines of our code, without the fake server's request lines."""
    return [line for line in logs if line["event"] != "fake_github_request"]


def test_resolved_sender_trust_is_logged_with_login_and_trust() -> None:
    """A sender whose trust came from the resolver is logged as trust_resolved."""
    payload = {"sender": {"login": "carol"}, "issue": {"user": {"login": "dave"}}}
    with capture_logs() as logs:
        sender_trust("issues", payload, policy=TrustPolicy(), resolver=lambda _: "collaborators")
    assert logs == [
        {
            "event": "trust_resolved",
            "login": "carol",
            "trust": "collaborators",
            "log_level": "debug",
        }
    ]


def test_label_never_applied_is_logged_with_issue_and_label(fake: FakeGitHub, repo: Any) -> None:
    """An issue that never had the label logs label_never_applied naming issue and label."""
    fake.create_issue(REPO, "Add a widget", as_user="mallory")
    fake.add_labels(REPO, 1, "bug", as_user="mallory")
    with capture_logs() as logs:
        label_applier(repo, 1, "factory:ready")
    assert _ours(logs) == [
        {"event": "label_never_applied", "issue": 1, "label": "factory:ready", "log_level": "debug"}
    ]


def test_applied_label_logs_nothing(fake: FakeGitHub, repo: Any) -> None:
    """A label that was applied is found without a label_never_applied line."""
    fake.create_issue(REPO, "Add a widget", as_user="mallory")
    fake.add_labels(REPO, 1, "factory:ready", as_user="mallory")
    with capture_logs() as logs:
        applier = label_applier(repo, 1, "factory:ready")
    assert (applier, _ours(logs)) == ("mallory", [])


def test_label_applied_by_a_deleted_account_has_no_applier(fake: FakeGitHub, repo: Any) -> None:
    """GitHub lists a deleted account's event with a null actor: the applier is unknown."""
    fake.create_issue(REPO, "Add a widget", as_user="mallory")
    fake.add_labels(REPO, 1, "factory:ready", as_user="mallory")
    fake.repo(REPO).events[-1].actor = None  # type: ignore[assignment]  (the account is gone)
    assert label_applier(repo, 1, "factory:ready") is None


# Equivalent mutants (no test can kill them):
# - x_label_applier__mutmut_2: `found = False` -> `found = None` at the start: both are
#   falsy, and `found` is only read by `if not found`.


def test_association_that_is_not_a_string_is_none() -> None:
    """A malformed author_association (not a string) says nothing about the sender."""
    payload = {
        "sender": {"login": "carol"},
        "issue": {"user": {"login": "carol"}, "author_association": 5},
    }
    assert authored_association("issues", payload) is None


def test_login_that_is_not_a_string_is_no_login() -> None:
    """A user whose login is not a string is no user: nothing is authored by them."""
    payload = {
        "sender": {"login": 5},
        "issue": {"user": {"login": 5}, "author_association": "OWNER"},
    }
    assert authored_association("issues", payload) is None
