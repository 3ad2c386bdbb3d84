"""Factory label conventions against a real FakeGitHub: missing labels created, idempotently."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from github import Auth
from github.Repository import Repository

from factory.config.harness import Labels, ModelPrice, Policy, RiskTier
from factory.forge.client import Pacing, make_github
from factory.forge.labels import ensure_labels, factory_labels
from factory.testing.fake_github import FakeGitHub

REPO = "acme/widgets"


def make_policy(**labels: str) -> Policy:
    """Return a minimal valid policy with the given label names."""
    price = ModelPrice(input=1, output=1, cache_write=1, cache_read=1)
    return Policy(risk_tiers={"any": RiskTier()}, prices={"m": price}, labels=Labels(**labels))


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    """A FakeGitHub with the target repo and an admin token."""
    with FakeGitHub() as server:
        server.create_repo(REPO)
        server.add_user("acme", token="t-owner", permission="admin")
        yield server


@pytest.fixture
def repo(fake: FakeGitHub) -> Repository:
    """The target repository through a real client."""
    pacing = Pacing(seconds_between_writes=0, backoff_factor=0)
    gh = make_github(auth=Auth.Token("t-owner"), base_url=fake.api_url, pacing=pacing)
    return gh.get_repo(REPO)


def test_factory_labels_follow_the_policy_names() -> None:
    """Label names come from the policy, one per role."""
    specs = factory_labels(make_policy(ready="go").labels)
    assert [s.name for s in specs] == [
        "factory:triage",
        "go",
        "factory:review",
        "factory:blocked",
        "needs-human",
    ]


def test_ensure_labels_creates_the_missing_ones(repo: Repository, fake: FakeGitHub) -> None:
    """Every factory label ends up in the repository."""
    ensure_labels(repo, make_policy())
    names = set(fake.repo(REPO).labels)
    assert {s.name for s in factory_labels(Labels())} <= names


def test_ensure_labels_twice_creates_nothing_the_second_time(repo: Repository) -> None:
    """A second run finds every label present and creates none."""
    ensure_labels(repo, make_policy())
    assert ensure_labels(repo, make_policy()) == []


def test_ensure_labels_keeps_an_existing_label_whatever_its_case(
    repo: Repository, fake: FakeGitHub
) -> None:
    """A label that exists with another capitalisation is not created again."""
    repo.create_label("Needs-Human", "000000", "ours")
    before = len(fake.request_log)
    ensure_labels(repo, make_policy())
    posts = [p for m, p, _ in fake.request_log[before:] if m == "POST"]
    assert len(posts) == len(factory_labels(make_policy().labels)) - 1
