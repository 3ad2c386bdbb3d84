"""The auditor, enabled, in the whole daemon: it reads recorded runs with a repeated failing tool
call and opens one needs-human pull request on the factory config repository, with the run
ids as evidence; the factory refuses to merge it even when asked; the application repository
is never touched.

FakeGitHub holds two repositories: the application's (the sample calculator) and the factory
config's (acme/factory-config: the shipped automations and harness, the auditor enabled by a
maintainer's edit), cloned into the config directory the daemon runs from. The store already
holds two failed builder runs whose ``make test`` call failed the same way. The model is a
scripted auditor. The story runs once (module scope); the tests read what it left.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github

from factory.config.loader import load_factory
from factory.daemon.process import Daemon
from factory.daemon.runoutputs import config_repos
from factory.forge.merge_gate import merge_pull_request
from factory.sources.manual import manual_event
from factory.sources.schedule import Schedules
from factory.store import RunStore
from factory.testing.fake_anthropic import FakeAnthropic, FakeReply
from factory.testing.fake_github import FakeGitHub
from factory.testing.sample import BOT_TOKEN, REPO, seed_world, tool_reply
from tests.daemon.conftest import ROOT, daemon_settings, wait_for
from tests.forge.audit_helpers import failing_make_test, record_run
from tests.gitcmd import git

CONFIG = "acme/factory-config"
MAINTAINER = "maintainer"
FIX_LINE = "  Run the tests with `python -m unittest`, not `make test` (there is no Makefile).\n"


def _builder_fixed() -> str:
    text = (ROOT / "automations" / "builder.yaml").read_text()
    return text.replace("prompt: |\n", "prompt: |\n" + FIX_LINE, 1)


def _last_tool_result(body: dict[str, Any]) -> str:
    last = body["messages"][-1]["content"]
    for block in last if isinstance(last, list) else []:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            content = block.get("content")
            return content if isinstance(content, str) else str(content)
    return ""


def _tool(turn: int, name: str, tool_input: dict[str, Any]) -> FakeReply:
    return tool_reply(turn, name, tool_input, f"Step {turn}.")


@dataclass
class ScriptedAuditor:
    """Plays the auditor: failing calls, the builder's YAML, one proposal, done."""

    results: list[str] = field(default_factory=list)
    offered: list[set[str]] = field(default_factory=list)

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        turn = len(body["messages"]) // 2 + 1
        self.offered.append({str(t.get("name")) for t in body.get("tools", [])})
        if turn > 1:
            self.results.append(_last_tool_result(body))
        if turn == 1:
            return _tool(1, "factory_runs", {"action": "failing_calls", "days": 7})
        if turn == 2:
            return _tool(
                2, "factory_runs", {"action": "config_file", "path": "automations/builder.yaml"}
            )
        if turn == 3:
            match = re.search(r"runs: ([0-9A-Z, ]+)", self.results[0])
            evidence = match.group(1).split(", ") if match else []
            request = {
                "title": "builder: run the tests with python -m unittest",
                "body": "**Problem** `make test` failed the same way in 2 runs.",
                "evidence": evidence,
                "changes": [{"path": "automations/builder.yaml", "content": _builder_fixed()}],
            }
            return _tool(3, "output_propose_config_change", request)
        return FakeReply([{"type": "text", "text": "One proposal opened."}])


@dataclass
class Story:
    github: FakeGitHub
    auditor: ScriptedAuditor
    evidence: list[str]
    before: Any
    after: Any
    run_status: str
    daemon: Daemon
    config_dir: Path


def _config_files() -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {}
    for folder in ("automations", "harness"):
        for path in sorted((ROOT / folder).iterdir()):
            files[f"{folder}/{path.name}"] = path.read_text()
    enabled = files["automations/auditor.yaml"]
    assert isinstance(enabled, str)
    files["automations/auditor.yaml"] = enabled.replace("enabled: false", "enabled: true")
    return files


def _app_state(github: FakeGitHub) -> Any:
    app = github.repo(REPO)
    issues = {
        n: (i.state, sorted(i.labels), len(i.comments), i.body) for n, i in app.issues.items()
    }
    return (sorted(app.pulls), issues, sorted(app.labels), app.git.refs())


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    tmp = tmp_path_factory.mktemp("auditor")
    with FakeGitHub(tmp / "github") as github, FakeAnthropic() as anthropic:
        auditor = ScriptedAuditor()
        anthropic.responder = auditor
        seed_world(github, label=False)
        github.add_user(MAINTAINER, token="t-maintainer", permission="admin")
        github.create_repo(CONFIG, files=_config_files())
        config_dir = tmp / "config"
        git("clone", "-q", github.clone_url(CONFIG), str(config_dir), cwd=tmp)
        settings = daemon_settings(
            github,
            anthropic,
            tmp,
            automations=config_dir / "automations",
            harness=config_dir / "harness",
        )
        (tmp / "data").mkdir()
        with RunStore.open(settings.db_path) as store:
            evidence = [
                record_run(store, calls=[failing_make_test()], status="failed") for _ in range(2)
            ]
        daemon = Daemon(settings)
        daemon.start()
        before = _app_state(github)
        thread = threading.Thread(target=daemon.run_loop, name="daemon-loop", daemon=True)
        thread.start()
        try:
            run_id = daemon.enqueue_manual("auditor")
            status = wait_for(
                lambda: (r := daemon.store.get_run(run_id)).finished and r.status,
                what="the auditor run finishes",
            )
            yield Story(
                github, auditor, evidence, before, _app_state(github), status, daemon, config_dir
            )
        finally:
            daemon.stopping.set()
            daemon.wake.set()
            thread.join(timeout=30)


def test_auditor_run_succeeds(story: Story) -> None:
    """The enabled auditor's run ends succeeded."""
    assert story.run_status == "succeeded"


def test_auditor_is_offered_factory_runs_and_the_proposal_output(story: Story) -> None:
    """Its session has exactly the factory_runs tool and the propose_config_change output."""
    assert story.auditor.offered[0] == {"factory_runs", "output_propose_config_change"}


def test_auditor_reads_the_repeated_failing_call_with_both_runs(story: Story) -> None:
    """``failing_calls`` shows the recorded runs' repeated failure with both run ids."""
    assert f"runs: {', '.join(story.evidence)}" in story.auditor.results[0]


def test_auditor_opens_one_pull_request_on_the_config_repository(story: Story) -> None:
    """Exactly one pull request is opened on the factory config repository."""
    assert sorted(story.github.repo(CONFIG).pulls) == [1]


def test_auditor_pull_request_is_labelled_needs_human(story: Story) -> None:
    """The proposal carries needs-human."""
    assert story.github.labels_of(CONFIG, 1) == ["needs-human"]


def test_auditor_pull_request_names_the_runs_as_evidence(story: Story) -> None:
    """The description's evidence table lists both recorded runs."""
    body = story.github.issue(CONFIG, 1).body
    rows = [line.split(" | ")[0].removeprefix("| ") for line in body.splitlines()]
    assert [row for row in rows if row in story.evidence] == story.evidence


def test_auditor_never_touches_the_application_repository(story: Story) -> None:
    """The application's pull requests, issues, labels, comments and refs are as before."""
    assert story.after == story.before


def test_the_config_directory_the_daemon_reads_is_unchanged(story: Story) -> None:
    """The proposal is not applied: the daemon's config checkout has no change."""
    assert git("status", "--porcelain", cwd=story.config_dir) == ""
    assert (
        "python -m unittest`, not"
        not in (story.config_dir / "automations" / "builder.yaml").read_text()
    )


def test_the_factory_refuses_to_merge_the_proposal_even_when_asked(story: Story) -> None:
    """Green, approved by a maintainer: the daemon's merge gate still refuses the config PR."""
    github = story.github
    head = github.repo(CONFIG).git.resolve(f"refs/heads/{github.pull(CONFIG, 1).head_ref}")
    assert head is not None
    github.add_check_run(CONFIG, head, "tests", "success", as_user=MAINTAINER)
    github.review(CONFIG, 1, "APPROVE", as_user=MAINTAINER)
    client = Github(
        base_url=github.api_url,
        auth=Auth.Token(BOT_TOKEN),
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    policy = story.daemon.watcher.config.policy
    decision = merge_pull_request(
        client.get_repo(CONFIG), 1, policy, config_repos=config_repos(story.daemon.env)
    )
    assert (decision.merged, decision.reasons, github.pull(CONFIG, 1).merged) == (
        False,
        (
            f"{CONFIG} is the factory's own config repository: the factory never merges a"
            " change to its own configuration, a person does",
        ),
        False,
    )


def test_the_shipped_auditor_is_disabled_and_cannot_be_run() -> None:
    """As shipped, the auditor validates, is disabled, and even a manual run is refused."""
    config = load_factory(ROOT / "automations", ROOT / "harness")
    assert config.automations["auditor"].enabled is False
    with pytest.raises(ValueError, match="disabled"):
        manual_event(config.automations, "auditor")


def _schedule_jobs(tmp_path: Path, automations: Path) -> list[str]:
    config = load_factory(automations, ROOT / "harness")
    with RunStore.open(tmp_path / "factory.db") as store:
        schedules = Schedules(store)
        added, _ = schedules.sync(config)
        schedules.shutdown()
    return added


def test_the_shipped_auditor_gets_no_nightly_schedule(tmp_path: Path) -> None:
    """Disabled as shipped, the auditor's cron trigger makes no scheduler job."""
    assert [job for job in _schedule_jobs(tmp_path, ROOT / "automations") if "auditor" in job] == []


def test_the_enabled_auditor_gets_its_nightly_schedule(tmp_path: Path) -> None:
    """Once a maintainer enables it, the auditor's cron trigger is a scheduler job."""
    folder = tmp_path / "automations"
    shutil.copytree(ROOT / "automations", folder)
    text = (folder / "auditor.yaml").read_text()
    (folder / "auditor.yaml").write_text(text.replace("enabled: false", "enabled: true"))
    assert len([job for job in _schedule_jobs(tmp_path, folder) if "auditor" in job]) == 1
