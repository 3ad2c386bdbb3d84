"""The PR shepherd in the whole daemon (webhooks relayed, real git, real bubblewrap).

One story, run once (module scope), with only pr-shepherd enabled:

* a factory pull request whose CI fails: the shepherd reads the check's annotations and the
  job's log through ``github_read``, fixes ``calc.add`` in the sandbox and pushes one commit
  onto the PR's own branch (the head moves);
* a person's pull request on a branch named ``factory/…`` whose CI fails: the shepherd runs
  (the branch filter matches) but its push is refused, and the branch stays where it was;
* a person's pull request on a branch of their own: no run at all;
* a factory pull request the shepherd cannot fix (its change touches CI config): three
  attempts on one head, then the fourth is refused, ``needs-human`` is put on the PR and one
  summary comment is posted, even after a fifth failure.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github

from factory.daemon.process import Daemon
from factory.store import RunRecord, RunStore
from factory.testing.fake_anthropic import FakeAnthropic, FakeReply
from factory.testing.fake_github import FakeGitHub
from factory.testing.relay import WebhookRelay
from factory.testing.sample import (
    BOT,
    BOT_TOKEN,
    MAINTAINER,
    MAINTAINER_TOKEN,
    REPO,
    seed_repo,
    tool_reply,
)
from tests.daemon.conftest import ROOT, SECRET, daemon_settings, wait_for

LOG_LINE = "FAILED test_calc.py::CalcTest::test_add - AssertionError: -1 != 5"
EDITOR = "str_replace_based_edit_tool"


def _text(body: dict[str, Any]) -> str:
    return json.dumps(body)


def _last_result(body: dict[str, Any]) -> str:
    last = body["messages"][-1]["content"]
    for block in last if isinstance(last, list) else []:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            content = block.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


@dataclass
class ScriptedShepherd:
    """Plays the shepherd: checks → annotations → job log → fix → tests → push."""

    unfixable: set[int] = field(default_factory=set)
    results: dict[int, list[str]] = field(default_factory=dict)

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        match = re.search(r"pull request #(\d+) \(head", _text(body.get("system", "")))
        if match is None:
            return FakeReply([{"type": "text", "text": "Nothing for me here."}])
        number = int(match.group(1))
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        seen = self.results.setdefault(number, [])
        if turn:
            seen.append(_last_result(body))
        push = {"message": "Fix add()", "summary": "test_add failed: add() subtracted."}
        if number in self.unfixable:
            steps = [
                (
                    EDITOR,
                    {"command": "create", "path": ".github/workflows/ci.yml", "file_text": "x"},
                ),
                ("output_push_to_pull_request", push),
            ]
        else:
            job = re.search(r"check run test \(id (\d+)\)", "\n".join(seen))
            job_id = int(job.group(1)) if job else 0
            fix = {"command": "str_replace", "path": "calc.py"}
            fix |= {"old_str": "return a - b", "new_str": "return a + b"}
            steps = [
                ("github_read", {"action": "checks", "number": number}),
                ("github_read", {"action": "check_annotations", "id": job_id}),
                ("github_read", {"action": "job_log", "id": job_id}),
                (EDITOR, fix),
                ("bash", {"command": "python3 -m unittest -q 2>&1; echo exit=$?"}),
                ("output_push_to_pull_request", push),
            ]
        if turn < len(steps):
            name, tool_input = steps[turn]
            return tool_reply(turn, name, tool_input, f"Step {turn}.")
        return FakeReply([{"type": "text", "text": "Done."}])


@dataclass
class Story:
    github: FakeGitHub
    shepherd: ScriptedShepherd
    runs: list[RunRecord]
    factory_pr: int
    human_pr: int
    plain_pr: int
    stuck_pr: int
    heads_before: dict[int, str]
    refusals: dict[int, list[str]]


def _pull(github: FakeGitHub, branch: str, author: str, title: str) -> int:
    git = github.repo(REPO).git
    git.create_ref(f"refs/heads/{branch}", git.resolve("refs/heads/main") or "")
    github.commit_files(REPO, branch, {"NOTES.md": f"{title}\n"}, title)
    return github.create_pull(REPO, branch, title, "Part of #1", as_user=author).number


def _head(github: FakeGitHub, number: int) -> str:
    return github.repo(REPO).git.resolve(f"refs/heads/{github.pull(REPO, number).head_ref}") or ""


def _fail_ci(github: FakeGitHub, number: int, name: str = "test") -> None:
    """A GitHub Actions job on the PR head fails with a log and an annotation; the webhooks'
    sender is the PR's pusher, as in GitHub's recordings."""
    head = _head(github, number)
    pusher = BOT if github.issue(REPO, number).user == BOT else MAINTAINER
    job = github.add_check_run(REPO, head, name, None, as_user=pusher, app="github-actions")
    github.set_job_log(REPO, job.id, f"Run python3 -m unittest\n{LOG_LINE}\n")
    token = BOT_TOKEN if pusher == BOT else MAINTAINER_TOKEN
    gh = Github(base_url=github.api_url, auth=Auth.Token(token), retry=None)
    note = {"path": "calc.py", "start_line": 6, "annotation_level": "failure"}
    note |= {"title": "test_add", "message": "add(2, 3) returned -1"}
    output = {"title": "1 failed", "summary": "1 failed", "annotations": [note]}
    gh.get_repo(REPO).get_check_run(job.id).edit(conclusion="failure", output=output)


def _finished(store_path: Path, subject: str, count: int) -> list[RunRecord]:
    with RunStore.open(store_path, readonly=True) as store:
        runs = store.list_runs(automation="pr-shepherd", subject=subject, limit=100)
    done = [r for r in runs if r.finished]
    return done if len(done) >= count else []


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    tmp = tmp_path_factory.mktemp("shepherd")
    automations = tmp / "automations"
    automations.mkdir()
    shutil.copy(ROOT / "automations" / "pr-shepherd.yaml", automations)
    harness = Path(shutil.copytree(ROOT / "harness", tmp / "harness"))
    with FakeGitHub(tmp / "github") as github, FakeAnthropic() as anthropic:
        seed_repo(github)
        factory_pr = _pull(github, "factory/issue-1-aaaa1111", BOT, "Add notes")
        human_pr = _pull(github, "factory/mara-tweak", MAINTAINER, "Mara's notes")
        plain_pr = _pull(github, "mara/docs", MAINTAINER, "Mara's docs")
        stuck_pr = _pull(github, "factory/issue-1-cccc3333", BOT, "More notes")
        shepherd = ScriptedShepherd(unfixable={stuck_pr})
        anthropic.responder = shepherd
        heads = {n: _head(github, n) for n in (factory_pr, human_pr, plain_pr, stuck_pr)}
        settings = daemon_settings(
            github,
            anthropic,
            tmp,
            automations=automations,
            harness=harness,
        )
        daemon = Daemon(settings)
        daemon.start()
        assert daemon.http is not None
        url = f"http://127.0.0.1:{daemon.http.port}/webhooks/github"
        relay = WebhookRelay(github, url, SECRET).start()
        thread = threading.Thread(target=daemon.run_loop, name="daemon-loop", daemon=True)
        thread.start()
        db = settings.db_path
        try:
            for number in (factory_pr, human_pr, plain_pr):
                _fail_ci(github, number)
            wait_for(lambda: _finished(db, f"pull_request:{factory_pr}", 1), what="factory PR run")
            wait_for(lambda: _finished(db, f"pull_request:{human_pr}", 1), what="human PR run")
            for attempt in range(1, 6):
                _fail_ci(github, stuck_pr, f"test-{attempt}")
                wait_for(
                    lambda n=attempt: _finished(db, f"pull_request:{stuck_pr}", n),
                    what=f"stuck PR run {attempt}",
                )
            with RunStore.open(db, readonly=True) as store:
                runs = store.list_runs(automation="pr-shepherd", limit=100)
                refusals = {
                    n: [
                        str((o.result or {}).get("reason", ""))
                        for r in runs
                        if r.subject_key == f"pull_request:{n}"
                        for o in store.outputs_for_run(r.id)
                        if o.status == "refused"
                    ]
                    for n in (human_pr, stuck_pr)
                }
            yield Story(
                github, shepherd, runs, factory_pr, human_pr, plain_pr, stuck_pr, heads, refusals
            )
        finally:
            daemon.stopping.set()
            daemon.wake.set()
            thread.join(timeout=30)
            relay.stop()


def test_factory_pr_run_succeeds(story: Story) -> None:
    """The failing check on the factory PR gives one shepherd run, and it succeeds."""
    key = f"pull_request:{story.factory_pr}"
    assert [r.status for r in story.runs if r.subject_key == key] == ["succeeded"]


def test_shepherd_reads_the_annotation(story: Story) -> None:
    """check_annotations shows the failing line's annotation to the agent."""
    assert any("calc.py:6 [failure]" in r for r in story.shepherd.results[story.factory_pr])


def test_shepherd_reads_the_job_log(story: Story) -> None:
    """job_log shows the failing test's line from the job's log to the agent."""
    assert any(LOG_LINE in r for r in story.shepherd.results[story.factory_pr])


def test_factory_pr_head_moves_to_the_fix(story: Story) -> None:
    """The push put one commit with the fix on top of the factory PR's old head."""
    git = story.github.repo(REPO).git
    head = _head(story.github, story.factory_pr)
    parent = git.git("rev-parse", f"{head}^")
    fixed = "return a + b" in git.git("show", f"{head}:calc.py")
    assert (parent, fixed) == (story.heads_before[story.factory_pr], True)


def test_factory_pr_comment_says_ci_may_not_start(story: Story) -> None:
    """The PR is told of the push and that a factory push may not start CI."""
    bodies = [c.body for c in story.github.issue(REPO, story.factory_pr).comments]
    assert sum("may not start CI" in b for b in bodies) == 1


def test_human_pr_is_not_pushed_to(story: Story) -> None:
    """A person's PR on a factory/-named branch keeps its head: nothing was pushed."""
    assert _head(story.github, story.human_pr) == story.heads_before[story.human_pr]


def test_human_pr_push_is_refused_as_not_the_factorys(story: Story) -> None:
    """The shepherd's push to a person's PR is refused because the factory did not open it."""
    assert ["not the factory" in r for r in story.refusals[story.human_pr]] == [True]


def test_plain_human_branch_gets_no_run(story: Story) -> None:
    """A person's PR on their own branch starts no shepherd run at all."""
    assert [r for r in story.runs if r.subject_key == f"pull_request:{story.plain_pr}"] == []


def test_stuck_pr_fourth_attempt_hits_the_limit(story: Story) -> None:
    """Three refused attempts on one head, then the attempt limit refuses the rest."""
    found = ["attempt limit" in r for r in story.refusals[story.stuck_pr]]
    assert sorted(found) == [False, False, False, True, True]


def test_stuck_pr_is_labelled_needs_human(story: Story) -> None:
    """The stuck PR carries needs-human after the limit."""
    assert "needs-human" in story.github.labels_of(REPO, story.stuck_pr)


def test_stuck_pr_summary_comment_is_posted_once(story: Story) -> None:
    """One summary comment says the factory stopped, even after a fifth failure."""
    bodies = [c.body for c in story.github.issue(REPO, story.stuck_pr).comments]
    assert sum("stopped trying" in b for b in bodies) == 1


def test_stuck_pr_head_never_moves(story: Story) -> None:
    """No attempt on the stuck PR pushed anything."""
    assert _head(story.github, story.stuck_pr) == story.heads_before[story.stuck_pr]
