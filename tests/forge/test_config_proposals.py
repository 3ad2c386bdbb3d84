"""``propose_config_change`` through the output gate: a needs-human pull request on the factory
config repository's remote, or a local branch plus a patch file; never the application's.

Real git, a FakeGitHub with two repositories (the application's, acme/widgets, and the factory
config's, acme/factory-config) through real PyGithub, a real store.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github

from factory.config.outputs_config import Outputs
from factory.forge.config_performer import ConfigRepoSide, config_proposal_performer
from factory.forge.config_proposals import PROPOSAL_MARK, ProposeConfigChangeRequest
from factory.forge.output_requests import RunContext, prepare
from factory.forge.outputs import OutputDecision, OutputGate
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from tests.forge.audit_helpers import failing_make_test, record_run
from tests.gitcmd import git

ROOT = Path(__file__).resolve().parents[2]
APP, CONFIG, BOT, BOT_TOKEN = "acme/widgets", "acme/factory-config", "factory-bot", "t-bot"


def _config_files() -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {}
    for folder in ("automations", "harness"):
        for path in sorted((ROOT / folder).iterdir()):
            files[f"{folder}/{path.name}"] = path.read_text()
    return files


@dataclass
class World:
    fake: FakeGitHub
    store: RunStore
    ctx: RunContext
    config_dir: Path
    data_dir: Path
    evidence: list[str]

    def gate(self, root: Path | None = None) -> OutputGate:
        side = ConfigRepoSide(
            root=root or self.config_dir,
            data_dir=self.data_dir,
            needs_human="needs-human",
            github=_client(self.fake),
        )
        return OutputGate({"propose_config_change": config_proposal_performer(side)})

    def propose(self, root: Path | None = None, **overrides: Any) -> OutputDecision:
        request: dict[str, Any] = {
            "title": "builder: run the tests with python -m unittest",
            "body": "**Problem** `make test` failed in every run.",
            "evidence": self.evidence,
            "changes": [{"path": "automations/builder.yaml", "content": _builder_fixed()}],
        }
        request.update(overrides)
        return self.gate(root).request(self.ctx, "propose_config_change", request)


def _client(fake: FakeGitHub) -> Github:
    return Github(
        base_url=fake.api_url,
        auth=Auth.Token(BOT_TOKEN),
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def _builder_fixed() -> str:
    text = (ROOT / "automations" / "builder.yaml").read_text()
    return text.replace("prompt: |\n", "prompt: |\n  Run the tests with `python -m unittest`.\n", 1)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The config repository cloned from its GitHub remote, two recorded failing runs."""
    with FakeGitHub() as fake:
        fake.add_user(BOT, token=BOT_TOKEN, permission="write")
        fake.create_repo(APP, files={"README.md": "# widgets\n"})
        fake.create_repo(CONFIG, files=_config_files())
        config_dir = tmp_path / "config"
        git("clone", "-q", fake.clone_url(CONFIG), str(config_dir), cwd=tmp_path)
        with RunStore.open(tmp_path / "factory.db") as store:
            evidence = [
                record_run(store, calls=[failing_make_test()], status="failed") for _ in range(2)
            ]
            run_id = store.create_run("auditor")
            outputs = Outputs.model_validate({"propose_config_change": {}})
            repo = _client(fake).get_repo(APP)
            ctx = RunContext(run_id, "auditor", outputs, None, repo, store)
            yield World(fake, store, ctx, config_dir, tmp_path / "data", evidence)


def _bot_pulls(fake: FakeGitHub, full_name: str) -> list[int]:
    return sorted(fake.repo(full_name).pulls)


def test_proposal_opens_one_pull_request_on_the_config_repository(world: World) -> None:
    """The proposal is one pull request on the config repository's remote."""
    decision = world.propose()
    assert (decision.status, _bot_pulls(world.fake, CONFIG)) == ("applied", [1])


def test_proposal_pull_request_is_labelled_needs_human(world: World) -> None:
    """The config pull request carries the policy's needs-human label."""
    world.propose()
    assert world.fake.labels_of(CONFIG, 1) == ["needs-human"]


def test_proposal_description_lists_every_evidence_run(world: World) -> None:
    """The description has an evidence row per run id, from the store, and the mark."""
    world.propose()
    body = world.fake.issue(CONFIG, 1).body
    rows = [line for line in body.splitlines() if line.startswith("| 01")]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == world.evidence
    assert PROPOSAL_MARK in body


def test_proposal_branch_holds_the_proposed_file(world: World, tmp_path: Path) -> None:
    """The pull request's branch has the new automation text."""
    world.propose()
    branch = world.fake.pull(CONFIG, 1).head_ref
    out = tmp_path / "check"
    git("clone", "-q", "-b", branch, world.fake.clone_url(CONFIG), str(out), cwd=tmp_path)
    assert (out / "automations" / "builder.yaml").read_text() == _builder_fixed()


def test_proposal_never_touches_the_application_repository(world: World) -> None:
    """The application repository gets no pull request, branch, issue or label."""
    app = world.fake.repo(APP)
    before = (sorted(app.pulls), sorted(app.issues), sorted(app.labels), app.git.refs())
    world.propose()
    assert (sorted(app.pulls), sorted(app.issues), sorted(app.labels), app.git.refs()) == before


def test_proposal_leaves_the_config_working_tree_alone(world: World) -> None:
    """The config directory the daemon reads from is not changed: the change is only proposed."""
    world.propose()
    builder = (world.config_dir / "automations" / "builder.yaml").read_text()
    status = git("status", "--porcelain", cwd=world.config_dir)
    assert (builder, status) == ((ROOT / "automations" / "builder.yaml").read_text(), "")


def test_repeated_proposal_opens_no_second_pull_request(world: World) -> None:
    """The same proposal asked twice is answered from its row: still one pull request."""
    first = world.propose()
    second = world.propose()
    assert (second.duplicate, second.url, _bot_pulls(world.fake, CONFIG)) == (
        True,
        first.url,
        [1],
    )


def test_without_a_remote_the_proposal_is_a_local_branch_and_patch(world: World) -> None:
    """No origin: a branch in the config repository and a patch file in the data dir."""
    git("remote", "remove", "origin", cwd=world.config_dir)
    decision = world.propose()
    branches = git("branch", "--list", "factory/config-*", cwd=world.config_dir).split()
    patch = Path(decision.url.removeprefix("file://")) if decision.url else Path()
    text = patch.read_text()
    assert (decision.status, len(branches), patch.parent) == (
        "applied",
        1,
        world.data_dir / "config-proposals",
    )
    assert "Labels: needs-human" in text
    assert "+  Run the tests with `python -m unittest`." in text
    assert all(run_id in text for run_id in world.evidence)


def test_local_proposal_leaves_the_working_tree_alone(world: World) -> None:
    """Without a remote the config directory's files and checkout stay as they were."""
    git("remote", "remove", "origin", cwd=world.config_dir)
    head = git("rev-parse", "HEAD", cwd=world.config_dir)
    world.propose()
    assert (
        git("rev-parse", "HEAD", cwd=world.config_dir),
        git("status", "--porcelain", cwd=world.config_dir),
    ) == (head, "")


@pytest.mark.parametrize(
    "path",
    [
        "harness/policy.yaml",
        "../escape.yaml",
        "src/app.py",
        ".env",
        "/etc/passwd",
        "automations/x.txt",
    ],
)
def test_paths_other_than_automations_and_harness_documents_are_refused(
    world: World, path: str
) -> None:
    """Only automation YAML and harness documents (not the policy) can be proposed."""
    decision = world.propose(changes=[{"path": path, "content": "x: 1\n"}])
    assert (decision.status, _bot_pulls(world.fake, CONFIG)) == ("refused", [])


def test_an_evidence_run_that_is_not_in_the_store_is_refused(world: World) -> None:
    """Evidence must be recorded runs: an invented run id is refused."""
    decision = world.propose(evidence=[*world.evidence, "01INVENTEDRUNID0000000000"])
    assert (decision.status, decision.reason) == (
        "refused",
        "propose_config_change: evidence run '01INVENTEDRUNID0000000000' is not in the run store",
    )


def test_a_proposal_that_does_not_validate_is_refused(world: World) -> None:
    """A proposed automation the loader rejects opens nothing and says why."""
    bad = "name: builder\non: []\nprompt: x\n"
    decision = world.propose(changes=[{"path": "automations/builder.yaml", "content": bad}])
    assert (decision.status, _bot_pulls(world.fake, CONFIG)) == ("refused", [])
    assert "does not validate" in decision.reason


def test_a_proposal_that_changes_nothing_is_refused(world: World) -> None:
    """Proposing a file's current text is refused: there is nothing to review."""
    same = (ROOT / "automations" / "builder.yaml").read_text()
    decision = world.propose(changes=[{"path": "automations/builder.yaml", "content": same}])
    assert (decision.status, decision.reason) == (
        "refused",
        "propose_config_change: the proposal changes nothing",
    )


def test_a_config_remote_that_is_the_application_repository_is_refused(
    world: World, tmp_path: Path
) -> None:
    """When the config repository's remote is the application's, nothing is pushed there."""
    git("remote", "set-url", "origin", world.fake.clone_url(APP), cwd=world.config_dir)
    decision = world.propose()
    assert (decision.status, sorted(world.fake.repo(APP).pulls)) == ("refused", [])
    assert "is the application repository" in decision.reason


def test_a_config_dir_that_is_not_a_repository_of_its_own_is_refused(
    world: World, tmp_path: Path
) -> None:
    """A config directory inside another git repository (not its top level) is refused."""
    inner = world.config_dir / "nested"
    shutil.copytree(world.config_dir / "automations", inner / "automations")
    decision = world.propose(root=inner)
    assert decision.status == "refused"
    assert "is not a git repository of its own" in decision.reason


def _crashed_after_perform(world: World) -> None:
    """Perform the proposal, then leave its row at intent, as a crash before marking would."""
    request = ProposeConfigChangeRequest.model_validate(
        {
            "title": "builder: run the tests with python -m unittest",
            "body": "Problem.",
            "evidence": world.evidence,
            "changes": [{"path": "automations/builder.yaml", "content": _builder_fixed()}],
        }
    )
    prepared = prepare("propose_config_change", request, world.ctx)
    key = prepared.key(world.ctx.scope)
    performer = world.gate().performers["propose_config_change"]
    performer.perform(world.ctx, prepared, key)
    world.store.record_output_intent(world.ctx.run_id, prepared.kind, key, prepared.to_stored())


def test_a_proposal_opened_before_a_crash_is_found_not_opened_again(world: World) -> None:
    """Reconciling an intent whose pull request exists finds it: still one pull request."""
    _crashed_after_perform(world)
    decisions = world.gate().reconcile(world.ctx)
    assert ([(d.status, d.duplicate) for d in decisions], _bot_pulls(world.fake, CONFIG)) == (
        [("applied", True)],
        [1],
    )


def test_a_local_proposal_saved_before_a_crash_is_found_not_saved_again(world: World) -> None:
    """Without a remote, an intent whose branch and patch exist is found on reconcile."""
    git("remote", "remove", "origin", cwd=world.config_dir)
    _crashed_after_perform(world)
    decisions = world.gate().reconcile(world.ctx)
    assert [(d.status, d.duplicate) for d in decisions] == [("applied", True)]
