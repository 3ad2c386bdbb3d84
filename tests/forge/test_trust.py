"""Permission answers expire: revoked trust stops counting within the TTL, or at once on forget."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from github import Auth, Github

from factory.config.harness import TrustPolicy
from factory.forge.trust import PermissionTrust
from factory.testing.fake_github import FakeGitHub
from tests.conftest import ManualClock

REPO = "acme/widgets"


@pytest.fixture(name="fake")
def fake_fixture() -> Iterator[FakeGitHub]:
    """A FakeGitHub where mallory is a maintainer (admin) and the bot can write."""
    with FakeGitHub() as server:
        server.create_repo(REPO)
        server.add_user("mallory", token="t-mallory", permission="admin")
        server.add_user("factory-bot", token="t-bot", permission="write")
        yield server


@pytest.fixture(name="repo")
def repo_fixture(fake: FakeGitHub) -> Any:
    """REPO through the real PyGithub, as the bot."""
    gh = Github(base_url=fake.api_url, auth=Auth.Token("t-bot"), retry=None)
    return gh.get_repo(REPO)


def test_answer_is_cached_within_the_ttl(fake: FakeGitHub, repo: Any) -> None:
    """Within the TTL the first answer stands (no second API call)."""
    clock = ManualClock()
    trust = PermissionTrust(repo, TrustPolicy(), ttl_s=300, clock=clock)
    first = trust("mallory")
    fake.add_user("mallory", permission="read")
    clock.now += 299
    assert (first, trust("mallory")) == ("maintainers", "maintainers")


def test_revoked_permission_stops_counting_after_the_ttl(fake: FakeGitHub, repo: Any) -> None:
    """Once the TTL has passed, GitHub is asked again and the revocation counts."""
    clock = ManualClock()
    trust = PermissionTrust(repo, TrustPolicy(), ttl_s=300, clock=clock)
    trust("mallory")
    fake.add_user("mallory", permission="read")
    clock.now += 300
    assert trust("mallory") == "anyone"


def test_forget_drops_every_answer_at_once(fake: FakeGitHub, repo: Any) -> None:
    """After ``forget`` (a membership event) the next question asks GitHub again."""
    trust = PermissionTrust(repo, TrustPolicy(), ttl_s=3600, clock=ManualClock())
    trust("mallory")
    fake.add_user("mallory", permission="none")
    trust.forget()
    assert trust("mallory") == "anyone"


def test_permission_is_mapped_by_the_policy(repo: Any) -> None:
    """The answer goes through the policy's mapping, not a table of its own."""
    policy = TrustPolicy(permissions={"admin": "collaborators"})
    assert PermissionTrust(repo, policy)("mallory") == "collaborators"


def test_negative_ttl_is_refused(repo: Any) -> None:
    """A negative TTL is a configuration mistake, refused with ValueError."""
    with pytest.raises(ValueError, match="ttl"):
        PermissionTrust(repo, TrustPolicy(), ttl_s=-1)
