"""The daemon records what became of the factory's pull requests, and the viewer sums it up.

Four issues labelled ready become four factory PRs (the real daemon, FakeGitHub over HTTP,
webhooks relayed). Then a maintainer merges one untouched, pushes a commit onto another and
merges it, closes a third unmerged, and merges the fourth and reverts it with a revert PR.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from github import Auth, Github

from factory.store.outcomes import OutcomeRecord
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.fake_github import FakeGitHub
from factory.testing.sample import (
    MAINTAINER,
    MAINTAINER_TOKEN,
    READY,
    REPO,
    ScriptedBuilder,
    seed_world,
)
from tests.daemon.conftest import ROOT, Factory, daemon_settings, run_daemon, wait_for
from tests.gitcmd import git

ROLES = ("untouched", "human_commit", "closed", "reverted")


@dataclass
class Ran:
    """The finished scenario: the world, each role's PR number, and the viewer's JSON."""

    factory: Factory
    pulls: dict[str, int]
    outcomes: dict[str, list[OutcomeRecord]]
    automations: list[dict[str, Any]]


def _pulls_by_issue(github: FakeGitHub) -> dict[int, int]:
    found = {}
    for pr in github.repo(REPO).pulls.values():
        closes = re.search(r"Closes #(\d+)", github.issue(REPO, pr.number).body or "")
        if closes and pr.head_ref.startswith("factory/"):
            found[int(closes.group(1))] = pr.number
    return found


def _push(factory: Factory, name: str, setup: list[list[str]], branch: str) -> None:
    """Clone the repo, run the git ``setup`` commands in it, and push HEAD to ``branch``."""
    clone = factory.tmp / name
    git("clone", "-q", factory.github.clone_url(REPO), str(clone), cwd=factory.tmp)
    for args in setup:
        git(*args, cwd=clone)
    git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=clone)


def _scenario(factory: Factory) -> Ran:
    github = factory.github
    issues = [
        github.create_issue(
            REPO, f"add() subtracts ({role})", "add(2, 3) is -1", as_user=MAINTAINER
        )
        for role in ROLES
    ]
    running = run_daemon(factory)
    try:
        for issue in issues:
            github.add_labels(REPO, issue.number, READY, as_user=MAINTAINER)
        by_issue = wait_for(
            lambda: found if len(found := _pulls_by_issue(github)) == 4 else None,
            timeout_s=240,
            what="four factory pull requests",
        )
        pulls = {role: by_issue[issue.number] for role, issue in zip(ROLES, issues, strict=True)}
        repo = Github(
            base_url=github.api_url,
            auth=Auth.Token(MAINTAINER_TOKEN),
            seconds_between_requests=None,
            seconds_between_writes=None,
        ).get_repo(REPO)
        doomed = repo.get_pull(pulls["reverted"])
        doomed.merge(merge_method="squash")
        _push(factory, "revert", [["revert", "--no-edit", "HEAD"]], "revert-it")
        title = f'Revert "{doomed.title}"'
        revert = repo.create_pull(
            base="main", head="revert-it", title=title, body=f"Reverts {REPO}#{doomed.number}"
        )
        revert.merge(merge_method="squash")
        repo.get_pull(pulls["untouched"]).merge(merge_method="squash")
        touched = repo.get_pull(pulls["human_commit"])
        notes = [["checkout", "-q", f"origin/{touched.head.ref}"]]
        notes += [["commit", "-q", "--allow-empty", "-m", "Maintainer's touch-up"]]
        _push(factory, "touch", notes, touched.head.ref)
        touched.merge(merge_method="squash")
        repo.get_pull(pulls["closed"]).edit(state="closed")

        def settled() -> dict[str, list[OutcomeRecord]] | None:
            with factory.store() as store:
                found = {
                    r: store.outcomes_of_subject(f"pull_request:{n}") for r, n in pulls.items()
                }
            return found if len(found["reverted"]) == 2 and all(found.values()) else None

        outcomes = wait_for(settled, timeout_s=60, what="the four PRs' outcomes")
        assert running.daemon.http is not None
        token = factory.settings.viewer_token
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
        url = f"http://127.0.0.1:{running.daemon.http.port}/automations.json"
        automations = httpx.get(url, headers=headers, timeout=10).json()["automations"]
    finally:
        running.stop()
    return Ran(factory, pulls, outcomes, automations)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    """The scenario, run once for this module's tests (it takes four builder runs)."""
    tmp = tmp_path_factory.mktemp("outcomes")
    automations = Path(shutil.copytree(ROOT / "automations", tmp / "automations"))
    harness = Path(shutil.copytree(ROOT / "harness", tmp / "harness"))
    with FakeGitHub(tmp / "github") as github, FakeAnthropic() as anthropic:
        anthropic.responder = ScriptedBuilder()
        world = seed_world(github, label=False)
        settings = daemon_settings(
            github,
            anthropic,
            tmp,
            automations=automations,
            harness=harness,
        )
        yield _scenario(Factory(github, anthropic, world, settings, tmp))


def test_each_pull_request_gets_its_fate(ran: Ran) -> None:
    """Untouched merge, merge after a human commit, close and merge-then-revert are recorded."""
    fates = {role: [o.fate for o in found] for role, found in ran.outcomes.items()}
    assert fates == {
        "untouched": ["merged_zero_touch"],
        "human_commit": ["merged_after_human_changes"],
        "closed": ["closed_unmerged"],
        "reverted": ["merged_zero_touch", "reverted"],
    }


def test_outcomes_name_the_builder_run_that_opened_each_pull_request(ran: Ran) -> None:
    """Every outcome row names a builder run of the prompt version that ran."""
    builder_runs = {r.id: r.content_hash for r in ran.factory.runs("builder")}
    rows = [o for found in ran.outcomes.values() for o in found]
    assert {(o.automation, builder_runs.get(o.run_id) == o.content_hash) for o in rows} == {
        ("builder", True)
    }


def test_viewer_shows_accepted_rate_and_cost_per_accepted_outcome(ran: Ran) -> None:
    """The daemon's viewer gives the builder version: 2 of 4 accepted, cost split over 2."""
    builder = next(a for a in ran.automations if a["name"] == "builder")
    [version] = [v for v in builder["versions"] if v["outcomes"] is not None]
    cost = sum(r.cost_usd for r in ran.factory.runs("builder"))
    o = version["outcomes"]
    assert (o["decided"], o["accepted_rate"], o["zero_touch_rate"], o["cost_per_accepted_usd"]) == (
        4,
        0.5,
        0.25,
        pytest.approx(cost / 2),
    )


def test_builder_runs_cost_something(ran: Ran) -> None:
    """The cost per accepted outcome is over real, priced model calls (not zero)."""
    assert sum(r.cost_usd for r in ran.factory.runs("builder")) > 0


def test_zero_touch_evidence_names_the_head_the_factory_pushed(ran: Ran) -> None:
    """The untouched merge's evidence shows the merged head is the commit the factory pushed
    (recorded by open_pull_request), so a person's push is told by its sha."""
    [merged] = ran.outcomes["untouched"]
    evidence = merged.evidence
    assert (evidence["factory_head_sha"] is not None, evidence["head_sha"]) == (
        True,
        evidence["factory_head_sha"],
    )
