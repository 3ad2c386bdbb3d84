"""The post-merge verifier against the real daemon: FakeGitHub over HTTP, webhooks relayed,
a scripted model, real git and bubblewrap.

Two factory pull requests merge (the bot merges, so GitHub's push comes from the factory).
The first leaves the smoke check green: no issue, no revert. The second breaks it: one
issue linked to the pull request and one revert pull request, risk-labelled and not merged.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github

from factory.testing.fake_anthropic import FakeAnthropic, FakeReply
from factory.testing.fake_github import FakeGitHub
from factory.testing.sample import BOT, BOT_TOKEN, REPO, seed_world, tool_reply
from tests.daemon.conftest import ROOT, Factory, daemon_settings, run_daemon, wait_for

SMOKE = "# Smoke checks\n\n## Commands\n\n```sh\nsh smoke.sh\n```\n"
PROMPT_MARK = "was just merged into"


def _last_result(body: dict[str, Any]) -> str:
    last = body["messages"][-1]["content"]
    return json.dumps(last) if isinstance(last, list) else str(last)


class ScriptedVerifier:
    """Runs the smoke script; on failure files an issue and asks for the revert."""

    def __init__(self) -> None:
        """Start with no workspace HEAD seen."""
        self.heads: dict[int, str] = {}
        """The first tool result per pull request: `git rev-parse HEAD` then the smoke run."""

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        """Return the next reply of a verifier conversation."""
        text = json.dumps(body["messages"][0]["content"]) + json.dumps(body.get("system", ""))
        if PROMPT_MARK not in text:
            return FakeReply([{"type": "text", "text": "Nothing for me to do here."}])
        number = int(re.search(r"Pull request #(\d+)", text).group(1))  # type: ignore[union-attr]
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        if turn == 0:
            command = "git rev-parse HEAD; sh smoke.sh; echo smoke-exit=$?"
            return tool_reply(0, "bash", {"command": command}, "Smoke.")
        if turn == 1:
            self.heads.setdefault(number, _last_result(body))
        if turn == 1 and "smoke-exit=0" in _last_result(body):
            return FakeReply([{"type": "text", "text": "All smoke checks pass."}])
        steps = [
            (
                "output_create_issue",
                {"title": f"Smoke checks fail after #{number}", "body": "`sh smoke.sh` exits 1."},
                "Filing the failure.",
            ),
            (
                "output_revert_pull_request",
                {"pull_number": number, "reason": "`sh smoke.sh` exits 1 after the merge."},
                "Asking for the revert.",
            ),
        ]
        if turn - 1 < len(steps):
            return tool_reply(turn, *steps[turn - 1])
        return FakeReply([{"type": "text", "text": "Filed and asked for the revert."}])


@dataclass
class Ran:
    """The finished scenario: the fake, the two merged PRs, the daemon's store view."""

    factory: Factory
    green: int
    broken: int
    issues_of_broken: list[int]
    heads: dict[int, str]


def _factory_pr(github: FakeGitHub, repo: Any, branch: str, script: str) -> int:
    git = github.repo(REPO).git
    git.create_ref(f"refs/heads/{branch}", str(git.resolve("refs/heads/main")))
    github.commit_files(REPO, branch, {"smoke.sh": script}, f"Set smoke.sh: {script.strip()}")
    number = github.create_pull(REPO, branch, f"Smoke: {script.strip()}", "", as_user=BOT).number
    repo.get_pull(number).merge(merge_method="merge")
    return number


def _verifier_runs(factory: Factory, number: int) -> list[Any]:
    runs = factory.runs("post-merge-verifier")
    return [r for r in runs if r.subject_key == f"pull_request:{number}" and r.finished_at]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    """Run the two merges once for the module."""
    tmp = tmp_path_factory.mktemp("verifier")
    automations = tmp / "automations"
    automations.mkdir()
    shutil.copy(ROOT / "automations" / "post-merge-verifier.yaml", automations)
    harness = Path(shutil.copytree(ROOT / "harness", tmp / "harness"))
    (harness / "smoke.md").write_text(SMOKE)
    with FakeGitHub(tmp / "github") as github, FakeAnthropic() as anthropic:
        verifier = ScriptedVerifier()
        anthropic.responder = verifier
        world = seed_world(github, label=False)
        settings = daemon_settings(
            github,
            anthropic,
            tmp,
            automations=automations,
            harness=harness,
        )
        factory = Factory(github, anthropic, world, settings, tmp)
        bot = Github(
            base_url=github.api_url,
            auth=Auth.Token(BOT_TOKEN),
            seconds_between_requests=None,
            seconds_between_writes=None,
        ).get_repo(REPO)
        running = run_daemon(factory)
        try:
            green = _factory_pr(github, bot, "factory/green", "exit 0\n")
            # main moves on before the verifier's workspace is made: it must stay pinned.
            github.commit_files(REPO, "main", {"later.txt": "later\n"}, "After the merge")
            wait_for(lambda: _verifier_runs(factory, green), 60, "the first verifier run")
            broken = _factory_pr(github, bot, "factory/broken", "exit 1\n")
            wait_for(lambda: _verifier_runs(factory, broken), 60, "the second verifier run")
        finally:
            running.stop()
        with factory.store() as store:
            issues = store.issues_from(f"pull_request:{broken}")
        yield Ran(factory, green, broken, issues, verifier.heads)


def _revert_pulls(ran: Ran) -> list[int]:
    pulls = ran.factory.github.repo(REPO).pulls
    return [n for n, pr in sorted(pulls.items()) if pr.head_ref.startswith("factory/revert-")]


def _bot_issues(ran: Ran) -> list[int]:
    issues = ran.factory.github.repo(REPO).issues.values()
    return [i.number for i in issues if not i.is_pr and i.user == BOT]


def test_green_merge_files_no_issue_and_no_revert(ran: Ran) -> None:
    """The first merge passes its smoke check: its verifier run succeeded and wrote nothing."""
    [run] = _verifier_runs(ran.factory, ran.green)
    with ran.factory.store() as store:
        kinds = [o.kind for o in store.outputs_for_run(run.id)]
    assert (run.status, kinds) == ("succeeded", [])


def test_broken_merge_files_one_issue_linked_to_the_pull_request(ran: Ran) -> None:
    """The failing merge gets exactly one issue by the bot, linked from its pull request."""
    issues = _bot_issues(ran)
    assert (len(issues), ran.issues_of_broken) == (1, issues)


def test_broken_merge_gets_one_unmerged_risk_labelled_revert(ran: Ran) -> None:
    """One revert pull request of the broken merge: not merged, risk tier and needs-human."""
    [number] = _revert_pulls(ran)
    github = ran.factory.github
    labels = github.labels_of(REPO, number)
    assert (
        github.pull(REPO, number).head_ref,
        github.pull(REPO, number).merged,
        "risk:medium" in labels,
        "needs-human" in labels,
    ) == (f"factory/revert-pr-{ran.broken}", False, True, True)


def test_verifier_workspace_is_the_merge_commit(ran: Ran) -> None:
    """Each verifier's workspace HEAD is its pull request's merge commit, main moved or not."""
    github = ran.factory.github
    merges = {n: str(github.pull(REPO, n).merge_commit_sha) for n in (ran.green, ran.broken)}
    assert {n: merges[n] in ran.heads.get(n, "") for n in merges} == {
        ran.green: True,
        ran.broken: True,
    }
