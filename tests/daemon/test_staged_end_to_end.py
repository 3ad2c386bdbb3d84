"""Staged and shadow runs in the whole daemon: FakeGitHub untouched by them, the viewer lists
what they would have done (real daemon, real bwrap, real git, real HTTP)."""

from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from github import Auth, Github

from factory.forge.claims import Claims
from factory.store import RunRecord, RunStore
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.fake_github import FakeGitHub
from factory.testing.sample import (
    BOT_TOKEN,
    FIXES,
    REPO,
    ScriptedBuilder,
    World,
    label_world,
    seed_world,
)
from factory.web import build_app
from tests.daemon.conftest import Factory, daemon_settings, run_daemon, wait_for
from tests.web.conftest import Server

ROOT = Path(__file__).resolve().parents[2]
WRITES = ("POST", "PATCH", "PUT", "DELETE")


@dataclass
class Story:
    """What one daemon did with the labelled world, and what FakeGitHub looked like."""

    factory: Factory
    before: tuple[Any, ...]
    """The repo's issues, pulls and labels just after the labels were put on."""
    writes_before: int
    """Write requests FakeGitHub had answered by then."""
    runs: list[RunRecord]

    def run_of(self, automation: str) -> RunRecord:
        """The finished, not skipped run of ``automation``."""
        [run] = [r for r in self.runs if r.automation == automation and r.status != "skipped"]
        return run

    def writes_after(self) -> list[tuple[str, str, int]]:
        """The write requests answered after the labels were put on."""
        log = list(self.factory.github.request_log)
        return [e for e in log if e[0] in WRITES][self.writes_before :]

    def viewer(self, path: str) -> httpx.Response:
        """GET ``path`` from a viewer over the daemon's store and folders."""
        settings = self.factory.settings
        with RunStore.open(settings.db_path, readonly=True) as store:
            app = build_app(
                store,
                automations_dir=settings.automations_dir,
                harness_dir=settings.harness_dir,
            )
            with Server(app) as server:
                return httpx.get(server.url + path, timeout=10)


def repo_state(github: FakeGitHub) -> tuple[Any, ...]:
    """A copy of the sample repo's issues, pull requests and labels."""
    repo = github.repo(REPO)
    return copy.deepcopy((repo.issues, repo.pulls, repo.labels))


def writes(github: FakeGitHub) -> int:
    """How many write requests FakeGitHub has answered."""
    return sum(1 for e in list(github.request_log) if e[0] in WRITES)


def shadow_yaml(live: str, name: str) -> str:
    """The live builder's YAML as its shadow ``name``: no triggers, ``shadow_of: builder``."""
    without_on = re.sub(r"^on:\n(?:[ #].*\n)+", "", live, flags=re.MULTILINE)
    return without_on.replace("name: builder\n", f"name: {name}\nshadow_of: builder\n", 1)


def tell(
    tmp: Path, edit: dict[str, str], first: Callable[[FakeGitHub, World], None] | None = None
) -> Iterator[Story]:
    """Run the labelled world through a daemon whose automations got ``edit`` (file -> YAML),
    after ``first`` did what it does to FakeGitHub."""
    automations = Path(shutil.copytree(ROOT / "automations", tmp / "automations"))
    harness = Path(shutil.copytree(ROOT / "harness", tmp / "harness"))
    live = (automations / "builder.yaml").read_text()
    for file, text in edit.items():
        (automations / file).write_text(text.format(live=live))
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
        factory = Factory(github, anthropic, world, settings, tmp)
        running = run_daemon(factory)
        try:
            if first is not None:
                first(github, world)
            label_world(github, world)
            before, writes_before = repo_state(github), writes(github)
            names = {"builder"} | {Path(f).stem for f in edit}
            wait_for(
                lambda: (
                    names
                    <= {
                        r.automation for r in factory.runs() if r.finished and r.status != "skipped"
                    }
                ),
                what=f"runs of {sorted(names)} to finish",
            )
        finally:
            running.stop()
        yield Story(factory, before, writes_before, factory.runs())


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """The shipped builder with ``staged: true`` ran the labelled world."""
    yield from tell(tmp_path_factory.mktemp("staged"), {"builder.yaml": "{live}staged: true\n"})


def claim_the_bug_elsewhere(github: FakeGitHub, world: World) -> None:
    """Take the bug's claim as another daemon holding it for an hour."""
    gh = Github(base_url=github.api_url, auth=Auth.Token(BOT_TOKEN), seconds_between_writes=None)
    claim = Claims(gh.get_repo(REPO)).claim(f"issue:{world.bug}", "another-host:run", 3600)
    assert claim is not None


@pytest.fixture(scope="module")
def staged_under_claim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """The staged builder ran the labelled world while another holder held the bug's claim."""
    tmp = tmp_path_factory.mktemp("claimed")
    yield from tell(tmp, {"builder.yaml": "{live}staged: true\n"}, claim_the_bug_elsewhere)


@pytest.fixture(scope="module")
def shadowed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """The shipped builder and its shadow builder-next ran the labelled world."""
    shadow = shadow_yaml((ROOT / "automations" / "builder.yaml").read_text(), "builder-next")
    shadow = shadow.replace("{", "{{").replace("}", "}}")
    yield from tell(tmp_path_factory.mktemp("shadow"), {"builder-next.yaml": shadow})


def test_staged_builder_run_succeeds(staged: Story) -> None:
    """The staged builder's run goes to the end like a live one."""
    assert staged.run_of("builder").status == "succeeded"


def test_staged_builder_makes_no_github_write(staged: Story) -> None:
    """After the labels, FakeGitHub answers no write request: no claim, PR, comment or label."""
    assert staged.writes_after() == []


def test_staged_builder_leaves_the_repo_as_it_was(staged: Story) -> None:
    """The repo's issues, pull requests and labels are exactly as they were before the run."""
    assert repo_state(staged.factory.github) == staged.before


def test_staged_builder_outputs_are_all_would_have(staged: Story) -> None:
    """Every output the staged run asked for is a staged row."""
    with staged.factory.store() as store:
        rows = [(o.kind, o.status) for o in store.outputs_for_run(staged.run_of("builder").id)]
    assert rows == [
        ("open_pull_request", "staged"),
        ("comment", "staged"),
        ("remove_labels", "staged"),
    ]


def test_viewer_json_lists_the_staged_pull_request(staged: Story) -> None:
    """The run's JSON in the viewer lists the pull request it would have opened, with its title."""
    data = staged.viewer(f"/runs/{staged.run_of('builder').id}.json").json()
    [pr] = [w for w in data["would_have"] if w["kind"] == "open_pull_request"]
    assert pr["fields"]["title"] == FIXES[-1].title


def test_viewer_page_lists_every_would_have_output(staged: Story) -> None:
    """The run page's Would have table has one row per staged output."""
    page = staged.viewer(f"/runs/{staged.run_of('builder').id}").text
    table = page.split('<table class="would-have">')[1].split("</table>")[0]
    assert table.count("<tr>") == 4  # the header row and three outputs


def test_staged_pull_request_change_is_kept_as_a_patch_step(staged: Story) -> None:
    """The change the staged PR would have carried is recorded as the run's patch step."""
    with staged.factory.store() as store:
        steps = store.steps(staged.run_of("builder").id)
    [patch] = [s for s in steps if s.kind == "patch"]
    assert "+    return a + b" in patch.text


def test_shadow_and_live_both_succeed_on_one_event(shadowed: Story) -> None:
    """The builder and its shadow both ran on the maintainer's label and succeeded."""
    live, shadow = shadowed.run_of("builder"), shadowed.run_of("builder-next")
    assert (live.status, shadow.status, live.event_id == shadow.event_id) == (
        "succeeded",
        "succeeded",
        True,
    )


def test_only_the_live_run_writes(shadowed: Story) -> None:
    """One pull request and one comment reach GitHub (the live run's); the shadow's are staged."""
    github = shadowed.factory.github
    with shadowed.factory.store() as store:
        live = {o.status for o in store.outputs_for_run(shadowed.run_of("builder").id)}
        shadow = {o.status for o in store.outputs_for_run(shadowed.run_of("builder-next").id)}
    pulls = list(github.repo(REPO).pulls.values())
    comments = [c.body for c in github.issue(REPO, shadowed.factory.world.bug).comments]
    assert (live, shadow, len(pulls), len(comments)) == ({"applied"}, {"staged"}, 1, 1)


def test_automations_page_compares_live_and_shadow(shadowed: Story) -> None:
    """The automations JSON sets the shadow's would-have outputs beside the live one's done."""
    [pair] = shadowed.viewer("/automations.json").json()["shadows"]
    live, shadow = pair["figures"]["live"], pair["figures"]["shadow"]
    got = (pair["shared_events"], live["runs"], shadow["runs"], live["applied"], shadow["staged"])
    assert got == (1, 1, 1, 3, 3)


def test_staged_run_does_not_wait_for_a_claim_held_elsewhere(staged_under_claim: Story) -> None:
    """A staged run takes no claim, so another holder's live claim on the subject stops nothing."""
    assert staged_under_claim.run_of("builder").status == "succeeded"
