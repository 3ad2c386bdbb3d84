"""A labeled issue becomes a pull request with nobody touching anything (webhooks or polling)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from factory.forge.markers import parse_markers
from factory.testing.sample import READY, REPO, label_world
from tests.daemon.conftest import Factory, Running, run_daemon, wait_for


@pytest.fixture(params=["webhooks", "poller"])
def ran(request: pytest.FixtureRequest, factory: Factory) -> Iterator[Factory]:
    """The daemon ran the labeled world to the end, fed by webhooks or only by the poller."""
    if request.param == "webhooks":
        running: Running = run_daemon(factory)
    else:
        running = run_daemon(factory, webhooks=False, poll_interval_s=0.5)
    try:
        label_world(factory.github, factory.world)
        wait_for(
            lambda: [r for r in factory.runs("builder") if r.finished and r.status != "skipped"],
            what="the builder run to finish",
        )
        wait_for(lambda: len(factory.runs("builder")) >= 2, what="the outsider's skipped run")
    finally:
        running.stop()
    yield factory


def test_exactly_one_builder_run_succeeds(ran: Factory) -> None:
    """The maintainer's label yields exactly one builder run, and it succeeds."""
    bug = f"issue:{ran.world.bug}"
    assert [r.status for r in ran.runs("builder") if r.subject_key == bug] == ["succeeded"]


def test_one_pull_request_with_the_fix_links_the_issue(ran: Factory) -> None:
    """One PR exists; it closes the issue, carries the marker, and comes from a factory branch."""
    [pull] = ran.github.repo(REPO).pulls.values()
    body = ran.github.issue(REPO, pull.number).body or ""
    assert (
        f"Closes #{ran.world.bug}" in body,
        len(parse_markers(body)),
        pull.head_ref.startswith("factory/issue-"),
    ) == (True, 1, True)


def test_pull_request_carries_the_fix(ran: Factory) -> None:
    """The PR's branch has add() fixed, committed by the factory, on top of main."""
    [pull] = ran.github.repo(REPO).pulls.values()
    clone = ran.tmp / "check"
    subprocess.run(["git", "clone", "-q", ran.github.clone_url(REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", pull.head_sha], check=True)
    assert "return a + b" in (clone / "calc.py").read_text()


def test_labels_are_updated(ran: Factory) -> None:
    """The ready label is gone from the issue and the PR carries factory:review."""
    [pull] = ran.github.repo(REPO).pulls.values()
    assert (
        READY in ran.github.labels_of(REPO, ran.world.bug),
        "factory:review" in ran.github.labels_of(REPO, pull.number),
    ) == (False, True)


def test_outsider_label_is_skipped_by_trust(ran: Factory) -> None:
    """The outsider's label gives a skipped run whose reason names the trust gate."""
    subject = f"issue:{ran.world.outsider_ready}"
    [run] = [r for r in ran.runs("builder") if r.subject_key == subject]
    assert (run.status, (run.stop_reason or "").startswith("trust: otto")) == ("skipped", True)
