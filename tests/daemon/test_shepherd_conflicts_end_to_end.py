"""Merge conflicts on factory PRs in the whole daemon (webhooks relayed, real git, bubblewrap).

One story, run once (module scope), with only pr-shepherd enabled. A maintainer merges a
change to ``calc.py`` into main (GitHub sends the push). Then:

* a factory PR that touched only NOTES.md: the daemon merges main into it and comments,
  with no session;
* a factory PR that changed the same line of ``calc.py``: a shepherd session is told of the
  one conflicted file, resolves the markers in its workspace and pushes; the PR's head
  becomes a merge commit of (old head, main) and is mergeable again;
* a person's PR on a ``factory/…`` branch with the same conflict: nothing at all.

And a second daemon, as a child process, killed (kill -9) right after its merge push and
before its comment: after the restart there is one merge commit and one comment.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
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
from factory.testing.processes import DaemonProcess, fired_points
from factory.testing.relay import WebhookRelay
from factory.testing.sample import (
    BOT,
    MAINTAINER,
    MAINTAINER_TOKEN,
    REPO,
    SAMPLE_FILES,
    seed_repo,
    tool_reply,
)
from tests.daemon.conftest import ROOT, SECRET, daemon_env, daemon_settings, wait_for

CALC = str(SAMPLE_FILES["calc.py"])
FIXED = CALC.replace("return a - b", "return a + b")
RESOLVED = CALC.replace("return a - b", "return b + a  # both: a + b, commutative")
CRASH_AT = "merge_base_after_push"


@dataclass
class ScriptedResolver:
    """Plays the shepherd on a merge conflict: look at the file, resolve it, push."""

    first_messages: dict[int, str] = field(default_factory=dict)
    seen: dict[int, list[str]] = field(default_factory=dict)

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        match = re.search(r"pull request #(\d+) \(head", json.dumps(body.get("system", "")))
        if match is None:
            return FakeReply([{"type": "text", "text": "Nothing for me here."}])
        number = int(match.group(1))
        first = body["messages"][0]["content"]
        self.first_messages[number] = first if isinstance(first, str) else json.dumps(first)
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        if turn:
            self.seen.setdefault(number, []).append(json.dumps(body["messages"][-1]["content"]))
        steps = [
            ("bash", {"command": "cat calc.py"}),
            ("bash", {"command": f"cat > calc.py <<'EOF'\n{RESOLVED}EOF\n"}),
            (
                "output_push_to_pull_request",
                {"message": "Merge main: resolve add()", "summary": "Resolved calc.py."},
            ),
        ]
        if turn < len(steps):
            name, tool_input = steps[turn]
            return tool_reply(turn, name, tool_input, f"Step {turn}.")
        return FakeReply([{"type": "text", "text": "Done."}])


def _pull(github: FakeGitHub, branch: str, author: str, files: dict[str, str]) -> int:
    git = github.repo(REPO).git
    git.create_ref(f"refs/heads/{branch}", git.resolve("refs/heads/main") or "")
    github.commit_files(REPO, branch, dict(files), f"Change on {branch}")
    return github.create_pull(
        REPO, branch, f"Work on {branch}", "Part of #1", as_user=author
    ).number


def _head(github: FakeGitHub, number: int) -> str:
    return github.repo(REPO).git.resolve(f"refs/heads/{github.pull(REPO, number).head_ref}") or ""


def _parents(github: FakeGitHub, sha: str) -> list[str]:
    return github.repo(REPO).git.git("rev-list", "--parents", "-n1", sha).split()[1:]


def _move_main(github: FakeGitHub) -> str:
    """A maintainer's PR changing add() is merged: GitHub sends the push to main."""
    number = _pull(github, "mara/calc", MAINTAINER, {"calc.py": FIXED.replace("a + b", "b + a")})
    gh = Github(base_url=github.api_url, auth=Auth.Token(MAINTAINER_TOKEN), retry=None)
    gh.get_repo(REPO).get_pull(number).merge()
    return github.repo(REPO).git.resolve("refs/heads/main") or ""


def _comments(github: FakeGitHub, number: int) -> list[str]:
    return [c.body for c in github.issue(REPO, number).comments]


def _finished(db: Path, number: int) -> list[RunRecord]:
    with RunStore.open(db, readonly=True) as store:
        runs = store.list_runs(automation="pr-shepherd", subject=f"pull_request:{number}")
    return [r for r in runs if r.finished]


def _workspace(tmp: Path) -> tuple[Path, Path]:
    automations = tmp / "automations"
    automations.mkdir()
    shutil.copy(ROOT / "automations" / "pr-shepherd.yaml", automations)
    return automations, Path(shutil.copytree(ROOT / "harness", tmp / "harness"))


@dataclass
class Story:
    github: FakeGitHub
    resolver: ScriptedResolver
    db: Path
    main: str
    clean_pr: int
    conflict_pr: int
    human_pr: int
    heads: dict[int, str]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    tmp = tmp_path_factory.mktemp("conflicts")
    automations, harness = _workspace(tmp)
    with FakeGitHub(tmp / "github") as github, FakeAnthropic() as anthropic:
        seed_repo(github)
        clean_pr = _pull(github, "factory/issue-1-aaaa1111", BOT, {"NOTES.md": "Notes.\n"})
        conflict_pr = _pull(github, "factory/issue-1-bbbb2222", BOT, {"calc.py": FIXED})
        human_pr = _pull(github, "factory/mara-tweak", MAINTAINER, {"calc.py": FIXED})
        heads = {n: _head(github, n) for n in (clean_pr, conflict_pr, human_pr)}
        resolver = ScriptedResolver()
        anthropic.responder = resolver
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
        relay = WebhookRelay(github, f"http://127.0.0.1:{daemon.http.port}/webhooks/github", SECRET)
        relay.start()
        thread = threading.Thread(target=daemon.run_loop, name="daemon-loop", daemon=True)
        thread.start()
        db = settings.db_path
        try:
            main = _move_main(github)
            wait_for(lambda: _finished(db, conflict_pr), what="the conflict's shepherd run")
            wait_for(
                lambda: any("merged cleanly" in b for b in _comments(github, clean_pr)),
                what="the daemon's merge comment",
            )
            relay.drain()
            yield Story(github, resolver, db, main, clean_pr, conflict_pr, human_pr, heads)
        finally:
            daemon.stopping.set()
            daemon.wake.set()
            thread.join(timeout=30)
            relay.stop()


def test_clean_pr_head_is_a_merge_of_old_head_and_main(story: Story) -> None:
    """The daemon pushed a merge commit of (the PR's old head, main) onto the clean PR."""
    head = _head(story.github, story.clean_pr)
    assert _parents(story.github, head) == [story.heads[story.clean_pr], story.main]


def test_clean_merge_needs_no_session(story: Story) -> None:
    """No shepherd run happened for the PR whose merge was clean."""
    with RunStore.open(story.db, readonly=True) as store:
        runs = store.list_runs(subject=f"pull_request:{story.clean_pr}")
    assert runs == []


def test_clean_merge_is_commented_once(story: Story) -> None:
    """One comment on the clean PR says the daemon merged main in."""
    assert sum("merged cleanly" in b for b in _comments(story.github, story.clean_pr)) == 1


def test_conflict_run_succeeds(story: Story) -> None:
    """The conflicted factory PR got one shepherd run, and it succeeded."""
    assert [r.status for r in _finished(story.db, story.conflict_pr)] == ["succeeded"]


def test_conflict_session_is_told_only_the_conflicted_file(story: Story) -> None:
    """The session's first message lists the conflicted files: calc.py and nothing else."""
    text = story.resolver.first_messages[story.conflict_pr].replace("\\n", "\n")
    listed = text.split("you may change:\n", 1)[1].split("\nResolve", 1)[0]
    assert listed == "- calc.py"


def test_conflict_workspace_shows_the_markers(story: Story) -> None:
    """The session's workspace holds calc.py with both sides between conflict markers."""
    first_result = story.resolver.seen[story.conflict_pr][0]
    assert ("<<<<<<< " in first_result, "=======" in first_result) == (True, True)


def test_conflict_pr_head_is_a_merge_of_old_head_and_main(story: Story) -> None:
    """The pushed resolution is a merge commit with parents (old head, main)."""
    head = _head(story.github, story.conflict_pr)
    assert _parents(story.github, head) == [story.heads[story.conflict_pr], story.main]


def test_conflict_pr_holds_the_resolution(story: Story) -> None:
    """The merge commit's calc.py is the agent's resolution."""
    head = _head(story.github, story.conflict_pr)
    assert story.github.repo(REPO).git.git("show", f"{head}:calc.py") + "\n" == RESOLVED


def test_conflict_pr_is_mergeable_again(story: Story) -> None:
    """After the push GitHub calls the conflicted PR mergeable."""
    gh = Github(base_url=story.github.api_url, auth=Auth.Token(MAINTAINER_TOKEN), retry=None)
    assert gh.get_repo(REPO).get_pull(story.conflict_pr).mergeable is True


def test_human_pr_is_left_alone(story: Story) -> None:
    """A person's conflicted PR on a factory/ branch: same head, no comment, no run."""
    number = story.human_pr
    with RunStore.open(story.db, readonly=True) as store:
        runs = store.list_runs(subject=f"pull_request:{number}")
    state = (_head(story.github, number), _comments(story.github, number), runs)
    assert state == (story.heads[number], [], [])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Crash:
    github: FakeGitHub
    fired: list[str]
    number: int
    head_before: str
    main: str


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crash]:
    tmp = tmp_path_factory.mktemp("conflicts-crash")
    automations, harness = _workspace(tmp)
    crash_log = tmp / "crashes.log"
    with FakeGitHub(tmp / "github") as github, FakeAnthropic() as anthropic:
        seed_repo(github)
        number = _pull(github, "factory/issue-1-aaaa1111", BOT, {"NOTES.md": "Notes.\n"})
        head = _head(github, number)
        port = _free_port()
        settings = daemon_settings(
            github,
            anthropic,
            tmp,
            automations=automations,
            harness=harness,
            port=port,
        )
        env = daemon_env(settings)
        first = DaemonProcess(env, ROOT, crash_at=CRASH_AT, crash_log=crash_log, preloaded=True)
        relay = WebhookRelay(github, f"http://127.0.0.1:{port}/webhooks/github", SECRET)
        try:
            first.wait_started()
            relay.start()  # after the start: the daemon's own label writes send webhooks too
            main = _move_main(github)
            wait_for(
                lambda: first.proc.poll() is not None, timeout_s=25, what="the armed crash to fire"
            )
        finally:
            first.kill()
        second = DaemonProcess(env, ROOT, preloaded=True)
        try:
            second.wait_started()
            wait_for(
                lambda: any("merged cleanly" in b for b in _comments(github, number)),
                what="the restarted daemon's comment",
            )
        finally:
            second.stop()
        yield Crash(github, fired_points(crash_log), number, head, main)
        del relay  # its thread ended with the first daemon's port


def test_kill_after_the_merge_push_fired_there(crash: Crash) -> None:
    """The armed crash point fired, once, between the merge push and the comment."""
    assert crash.fired == [CRASH_AT]


def test_kill_after_the_merge_push_leaves_one_merge_commit(crash: Crash) -> None:
    """After the restart the head is the one merge commit of (old head, main): no second push."""
    head = _head(crash.github, crash.number)
    assert _parents(crash.github, head) == [crash.head_before, crash.main]


def test_kill_after_the_merge_push_leaves_one_comment(crash: Crash) -> None:
    """The restarted daemon posted the missing comment, once."""
    assert sum("merged cleanly" in b for b in _comments(crash.github, crash.number)) == 1
