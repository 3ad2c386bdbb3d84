"""The PR reviewer starts with no context of the run that wrote the PR (issue #13, point 6).

The daemon runs the sample world: the builder opens a pull request, which starts the
pr-reviewer. What the model was sent for the review must be a fresh session: the review's
instructions and the pull request, none of the builder's turns, notes or tool output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from factory.testing.sample import FIXES, label_world
from tests.daemon.conftest import Factory, run_daemon, wait_for

BUILDER_SAID = [FIXES[-1].reason, "I'll read the code first.", "Now the tests."]
"""What the scripted builder wrote in its own session (its notes)."""


def _is_review(request: dict[str, Any]) -> bool:
    return "You review pull request" in json.dumps(request.get("system", ""))


@pytest.fixture
def reviews(factory: Factory) -> Iterator[list[dict[str, Any]]]:
    """Every model request of the pr-reviewer run the builder's pull request started."""
    running = run_daemon(factory)
    try:
        label_world(factory.github, factory.world)
        wait_for(
            lambda: [r for r in factory.runs("pr-reviewer") if r.finished],
            what="the pr-reviewer run to finish",
        )
    finally:
        running.stop()
    yield [r for r in factory.anthropic.requests if _is_review(r)]


def test_review_session_starts_with_one_message(reviews: list[dict[str, Any]]) -> None:
    """The reviewer's first request holds only its own context message: nothing carried over."""
    assert [m["role"] for m in reviews[0]["messages"]] == ["user"]


def test_review_carries_none_of_the_builder_notes(reviews: list[dict[str, Any]]) -> None:
    """No text the builder wrote in its session reaches any of the reviewer's requests."""
    sent = json.dumps(reviews)
    assert [note for note in BUILDER_SAID if note in sent] == []


def test_review_sees_the_pull_request_it_reviews(
    reviews: list[dict[str, Any]], factory: Factory
) -> None:
    """The reviewer's context message is the pull request, which closes the issue."""
    first = json.dumps(reviews[0]["messages"][0]["content"])
    assert f"Closes #{factory.world.bug}" in first
