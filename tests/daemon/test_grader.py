"""The quality grader, enabled, in the whole daemon: a first session drafts grades, a second
session with only the draft challenges them and lowers one, and the one proposal on the factory
config repository shows both sessions' evidence.

FakeGitHub holds the application repository (the sample calculator) and the factory config
repository (acme/factory-config: the shipped automations and harness, the grader enabled by a
maintainer's edit, plus a spec.md with three areas and a quality.md). The model plays both
sessions, told apart by their system prompt. The story runs once (module scope).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from factory.config.loader import load_factory
from factory.daemon.challenge import NO_VERDICT
from factory.daemon.process import Daemon
from factory.testing.fake_anthropic import FakeAnthropic, FakeReply
from factory.testing.fake_github import FakeGitHub
from factory.testing.sample import REPO, seed_world, tool_reply
from tests.daemon.conftest import ROOT, daemon_settings, wait_for
from tests.gitcmd import git

CONFIG = "acme/factory-config"
SPEC = (
    "# Product specification\n\n## Area: calculator\n\n- add, divide; divide by zero raises.\n\n"
    "## Area: cli\n\n- `calc 1 + 2` prints 3.\n\n## Area: docs\n\n- README explains usage.\n"
)
HEAD = (
    "# Quality\n\nOne grade per area of `spec.md`, A to F.\n\n"
    "| area | grade | evidence |\n|---|---|---|\n"
)
QUALITY = HEAD + "| calculator | ungraded | |\n| cli | ungraded | |\n| docs | ungraded | |\n"
DRAFT_EVIDENCE = "calc.py; test_calc.py::test_add passed (FIRST-SESSION-EVIDENCE)"
CHALLENGE_EVIDENCE = "no test of divide by zero in test_calc.py (SECOND-SESSION-EVIDENCE)"
CHALLENGER_MARK = "You are the challenger of this factory's quality grades"
GRADER_MARK = "You are the quality grader of this software factory"


def _quality(calculator: str, why: str) -> str:
    return (
        HEAD
        + f"| calculator | {calculator} | {why} |\n| cli | B | calc_cli.py; test_cli.py |\n"
        + "| docs | D | README.md has no usage section |\n"
    )


def _tool(turn: int, name: str, tool_input: dict[str, Any]) -> FakeReply:
    return tool_reply(turn, name, tool_input, f"Grader step {turn}.")


def _proposal(quality: str, body: str, evidence: list[str]) -> dict[str, Any]:
    return {
        "title": "quality: grades of 2026-12-01",
        "body": body,
        "evidence": evidence,
        "changes": [{"path": "harness/quality.md", "content": quality}],
    }


@dataclass
class ScriptedGrader:
    """Plays the grader (spec.md, one draft, done) and then the challenger (one lowered
    grade, the proposal, done)."""

    challenger_grade: str = "C"
    grader: list[dict[str, Any]] = field(default_factory=list)
    challenger: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        system = json.dumps(body.get("system"))
        turn = len(body["messages"]) // 2 + 1
        if CHALLENGER_MARK in system:
            self.challenger.append(body)
            first = json.dumps(body["messages"][0])
            runs = re.findall(r"Evidence runs: ([0-9A-Za-z]+)", first)
            if turn == 1:
                why_cell = "lowered from A: " + CHALLENGE_EVIDENCE
                quality = _quality(self.challenger_grade, why_cell).replace(
                    "| cli | B", "| cli | A"
                )
                if self.challenger_grade == "C":
                    quality = _quality("C", why_cell)
                why = "calculator: lowered from A to C: " + CHALLENGE_EVIDENCE + "\ncli: stands"
                return _tool(1, "output_propose_config_change", _proposal(quality, why, runs))
            return FakeReply([{"type": "text", "text": "Challenged: one grade lowered."}])
        self.grader.append(body)
        if turn == 1:
            return _tool(1, "factory_runs", {"action": "config_file", "path": "harness/spec.md"})
        if turn == 2:
            run_id = re.findall(r"run's id \(([0-9A-Z]{26})\)", system)
            quality = _quality("A", DRAFT_EVIDENCE)
            text = "calculator: A: " + DRAFT_EVIDENCE + "\ncli: B\ndocs: D"
            return _tool(2, "output_propose_config_change", _proposal(quality, text, run_id))
        return FakeReply([{"type": "text", "text": "Drafted: A, B, D."}])


@dataclass
class Story:
    github: FakeGitHub
    model: ScriptedGrader
    run_id: str
    run_status: str
    steps: list[str]
    stop_reason: str | None


def _config_files() -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {}
    for folder in ("automations", "harness"):
        for path in sorted((ROOT / folder).iterdir()):
            files[f"{folder}/{path.name}"] = path.read_text()
    grader = files["automations/quality-grader.yaml"]
    assert isinstance(grader, str)
    files["automations/quality-grader.yaml"] = grader.replace("enabled: false", "enabled: true")
    files["harness/spec.md"], files["harness/quality.md"] = SPEC, QUALITY
    return files


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    yield from _tell(tmp_path_factory.mktemp("grader"), ScriptedGrader())


@pytest.fixture(scope="module")
def raised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """A challenger that raises cli from B to A (and keeps calculator's A)."""
    yield from _tell(tmp_path_factory.mktemp("raised"), ScriptedGrader(challenger_grade="A"))


def _tell(tmp: Path, model: ScriptedGrader) -> Iterator[Story]:
    with FakeGitHub(tmp / "github") as github, FakeAnthropic() as anthropic:
        anthropic.responder = model
        seed_world(github, label=False)
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
        daemon = Daemon(settings)
        daemon.start()
        thread = threading.Thread(target=daemon.run_loop, name="daemon-loop", daemon=True)
        thread.start()
        try:
            run_id = daemon.enqueue_manual("quality-grader")
            status = wait_for(
                lambda: (r := daemon.store.get_run(run_id)).finished and r.status,
                what="the grader run finishes",
            )
            steps = [s.kind for s in daemon.store.steps(run_id)]
            stop = daemon.store.get_run(run_id).stop_reason
            yield Story(github, model, run_id, status, steps, stop)
        finally:
            daemon.stopping.set()
            daemon.wake.set()
            thread.join(timeout=30)


def _pull_body(story: Story) -> str:
    return story.github.issue(CONFIG, 1).body


def test_grader_run_succeeds(story: Story) -> None:
    """The enabled grader's run, both sessions, ends succeeded."""
    assert story.run_status == "succeeded"


def test_challenger_is_a_second_session_without_the_first_ones_context(story: Story) -> None:
    """The challenger's requests carry its own prompt, not the grader's, and none of the
    grader's conversation: its first message is the draft alone."""
    first = story.model.challenger[0]
    system, messages = json.dumps(first["system"]), json.dumps(first["messages"])
    seen = (
        GRADER_MARK in system,
        "Grader step 1." in messages,
        "Area: cli" in messages,  # the spec.md the grader read is not passed on
        DRAFT_EVIDENCE in messages,
        len(first["messages"]),
    )
    assert seen == (False, False, False, True, 1)


def test_one_proposal_is_opened_on_the_config_repository(story: Story) -> None:
    """The draft writes nothing: the one pull request is the challenger's."""
    assert sorted(story.github.repo(CONFIG).pulls) == [1]


def test_the_challenger_lowers_a_grade_in_the_proposed_quality_md(story: Story) -> None:
    """quality.md on the proposal's branch has the challenger's C, not the draft's A."""
    repo = story.github.repo(CONFIG)
    head = repo.git.resolve(f"refs/heads/{story.github.pull(CONFIG, 1).head_ref}")
    assert head is not None
    text = repo.git.git("show", f"{head}:harness/quality.md")
    rows = [line for line in text.splitlines() if line.startswith("| calculator ")]
    assert rows == ["| calculator | C | lowered from A: " + CHALLENGE_EVIDENCE + " |"]


def test_the_proposal_shows_both_sessions_evidence(story: Story) -> None:
    """The description holds the challenger's evidence and the draft's, each once."""
    body = _pull_body(story)
    found = (body.count("SECOND-SESSION-EVIDENCE") >= 1, "FIRST-SESSION-EVIDENCE" in body)
    assert found == (True, True)


def test_the_proposal_tables_each_grade_as_drafted_and_as_it_stands(story: Story) -> None:
    """The daemon's grade table: calculator lowered, cli stands, docs not challenged."""
    rows = [line for line in _pull_body(story).splitlines() if line.count("|") == 5]
    assert rows[2:] == [
        "| calculator | A | C | lowered by the challenger |",
        "| cli | B | B | stands: the challenger could not refute it |",
        "| docs | D | D | not challenged (below B) |",
    ]


def test_the_draft_is_recorded_as_a_step_of_the_run(story: Story) -> None:
    """The first session's draft is kept on the run (a challenge_draft step), then two
    sessions' stops."""
    assert (story.steps.count("challenge_draft"), story.steps.count("stop")) == (1, 2)


def test_the_proposal_is_labelled_needs_human(story: Story) -> None:
    """The grades proposal carries needs-human like every config proposal."""
    assert story.github.labels_of(CONFIG, 1) == ["needs-human"]


def test_the_application_repository_gets_no_pull_request(story: Story) -> None:
    """The grader writes nothing to the application repository."""
    assert sorted(story.github.repo(REPO).pulls) == []


def test_the_shipped_grader_is_disabled_and_challenged() -> None:
    """As shipped, the grader validates, is disabled, and its challenger may only lower the
    grades of harness/quality.md."""
    grader = load_factory(ROOT / "automations", ROOT / "harness").automations["quality-grader"]
    challenge = grader.challenge
    assert (grader.enabled, challenge.lower_only if challenge else None) == (
        False,
        "harness/quality.md",
    )


def test_a_challenger_raising_a_grade_is_refused_and_nothing_is_proposed(raised: Story) -> None:
    """The challenger may not raise cli from B to A: the proposal is refused with the reason,
    no pull request is opened, and the run fails saying nothing was proposed."""
    last = json.dumps(raised.model.challenger[-1]["messages"][-1])
    run = (raised.run_status, raised.stop_reason, sorted(raised.github.repo(CONFIG).pulls))
    assert (run, "area 'cli' was raised from B to A" in last) == (("failed", NO_VERDICT, []), True)
