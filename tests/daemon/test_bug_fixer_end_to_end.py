"""The bug fixer against the daemon: reproduce with a failing test, then fix (issue #13).

One daemon runs three approved bugs of the sample calculator (whose add() is fixed on main
first, so its tests pass): one the scripted agent reproduces and fixes, one where its "test"
passes without the fix (the daemon refuses the pull request; the agent escalates), and one
it cannot reproduce (it escalates without asking for a pull request).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from factory.testing.fake_anthropic import FakeAnthropic, FakeReply
from factory.testing.fake_github import FakeGitHub
from factory.testing.sample import (
    MAINTAINER,
    READY,
    REPO,
    seed_world,
    tool_reply,
    with_test_command,
)
from tests.daemon.conftest import ROOT, Factory, daemon_settings, run_daemon, wait_for

EDITOR = "str_replace_based_edit_tool"
NEEDS_HUMAN = "needs-human"
TEST_COMMAND = "python3 -m unittest -q"
FIXED_ADD = "    return a + b\n"


def _edit(path: str, old: str, new: str) -> dict[str, Any]:
    return {"command": "str_replace", "path": path, "old_str": old, "new_str": new}


MAIN_BLOCK = 'if __name__ == "__main__":'
MEAN_TEST = (
    "    def test_mean_of_nothing_is_zero(self):\n"
    "        self.assertEqual(calc.mean([]), 0.0)\n\n\n" + MAIN_BLOCK
)
MUL_TEST = "    def test_mul_negative(self):\n        self.assertEqual(calc.mul(-2, 3), -6)\n\n\n"
MEAN_OLD = "    return sum(values) / len(values)\n"
MEAN_NEW = "    return sum(values) / len(values) if values else 0.0\n"


def _steps(text: str) -> list[tuple[str, dict[str, Any], str]]:
    """The scripted bug fixer's turns for the issue whose text is ``text``."""
    if "Tuesday" in text:
        return [
            ("bash", {"command": f"{TEST_COMMAND} 2>&1; echo exit=$?"}, "Trying to reproduce."),
            (
                "output_comment",
                {"body": "Could not reproduce: the whole suite passes; no input fails."},
                "It does not reproduce.",
            ),
            ("output_add_labels", {"labels": [NEEDS_HUMAN]}, "Asking a person."),
        ]
    if "mean" in text:
        test, old, new = MEAN_TEST, MEAN_OLD, MEAN_NEW
    else:  # mul(): the "test" passes on the base, so the daemon refuses the change
        test, old, new = MUL_TEST + MAIN_BLOCK, MEAN_OLD, "    # tidy\n" + MEAN_OLD
    return [
        (EDITOR, _edit("test_calc.py", MAIN_BLOCK, test), "A test that shows the bug."),
        (EDITOR, _edit("calc.py", old, new), "The fix."),
        ("output_open_pull_request", {"title": "Fix it", "body": "Closes the bug."}, "PR."),
        ("output_remove_labels", {"labels": [READY]}, "Done with ready."),
    ]


class ScriptedBugFixer:
    """A deterministic bug-fixer session (a FakeAnthropic responder); others get a no-op."""

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        """Return the next reply for the conversation in ``body``."""
        if "bug fixer" not in json.dumps(body.get("system", "")):
            return FakeReply([{"type": "text", "text": "Nothing for me to do here."}])
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        steps = _steps(json.dumps(body["messages"][0]["content"]))
        said = [json.dumps(m["content"]) for m in body["messages"] if m["role"] == "user"]
        refusal = next((m for m in said if "do not reproduce the bug" in m), None)
        if refusal is not None:  # the pull request (turn 2) was refused: escalate
            escalate = {"body": f"The daemon refused: {refusal[-400:]}"}
            steps = [
                *steps[:3],
                ("output_comment", escalate, "Escalating."),
                ("output_add_labels", {"labels": [NEEDS_HUMAN]}, "Asking a person."),
            ]
        if turn < len(steps):
            return tool_reply(turn, *steps[turn])
        return FakeReply([{"type": "text", "text": "Done."}])


@dataclass(frozen=True)
class Bugs:
    """The three bug issues, and the factory they ran in."""

    factory: Factory
    fixed: int
    not_reproduced_by_test: int
    not_reproducible: int


def _show(f: Factory, rev: str, path: str) -> str:
    """Return ``path`` at ``rev`` in FakeGitHub's bare repository ('' when absent)."""
    git = ["git", "--git-dir", str(f.github.repo(REPO).git.path), "show", f"{rev}:{path}"]
    return subprocess.run(git, capture_output=True, text=True, check=False).stdout


@pytest.fixture(scope="module")
def bugs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bugs]:
    """Run the daemon over three approved bug issues until each bug-fixer run finished."""
    tmp = tmp_path_factory.mktemp("bugs")
    automations = Path(shutil.copytree(ROOT / "automations", tmp / "automations"))
    harness = Path(shutil.copytree(ROOT / "harness", tmp / "harness"))
    policy = harness / "policy.yaml"
    policy.write_text(with_test_command(policy.read_text(), TEST_COMMAND))
    with FakeGitHub(tmp / "github") as github, FakeAnthropic() as anthropic:
        anthropic.responder = ScriptedBugFixer()
        world = seed_world(github, label=False)
        settings = daemon_settings(
            github,
            anthropic,
            tmp,
            automations=automations,
            harness=harness,
        )
        f = Factory(github, anthropic, world, settings, tmp)
        calc = _show(f, "main", "calc.py").replace("a - b", "a + b")
        github.commit_files(REPO, "main", {"calc.py": calc}, "fix add")
        issues = [
            ("mean([]) raises ZeroDivisionError", "calc.mean([]) must return 0.0."),
            ("mul() is wrong for negatives", "I think mul(-2, 3) is wrong."),
            ("calc crashes on Tuesdays", "It crashed once, on a Tuesday."),
        ]
        numbers = [github.create_issue(REPO, t, b, as_user=MAINTAINER).number for t, b in issues]
        running = run_daemon(f)
        try:
            for n in numbers:
                github.add_labels(REPO, n, "bug", as_user=MAINTAINER)
                github.add_labels(REPO, n, READY, as_user=MAINTAINER)
            wait_for(
                lambda: len([r for r in f.runs("bug-fixer") if r.finished]) >= 3,
                timeout_s=120,
                what="three finished bug-fixer runs",
            )
        finally:
            running.stop()
        yield Bugs(f, *numbers)


def _comments(bugs: Bugs, number: int) -> list[str]:
    return [c.body for c in bugs.factory.github.issue(REPO, number).comments]


def test_only_the_reproduced_bug_gets_a_pull_request(bugs: Bugs) -> None:
    """Exactly one pull request is opened, for the bug the test reproduced."""
    pulls = list(bugs.factory.github.repo(REPO).pulls.values())
    assert [p.head_ref.startswith(f"factory/issue-{bugs.fixed}-") for p in pulls] == [True]


def test_pull_request_says_the_daemon_saw_the_test_fail_then_pass(bugs: Bugs) -> None:
    """The PR body carries the daemon's reproduction note naming the test file."""
    [pull] = bugs.factory.github.repo(REPO).pulls.values()
    body = bugs.factory.github.issue(REPO, pull.number).body or ""
    note = f"Reproduction checked by factoryd: `{TEST_COMMAND}` failed (exit 1)"
    assert (note in body, "(`test_calc.py`)" in body) == (True, True)


def test_pull_request_holds_the_failing_test_and_the_fix(bugs: Bugs) -> None:
    """The PR's head has the new test and the fixed mean()."""
    [pull] = bugs.factory.github.repo(REPO).pulls.values()
    test_file = _show(bugs.factory, pull.head_sha, "test_calc.py")
    calc = _show(bugs.factory, pull.head_sha, "calc.py")
    assert ("test_mean_of_nothing_is_zero" in test_file, MEAN_NEW in calc) == (True, True)


def test_patch_without_a_failing_test_is_refused_with_the_reason(bugs: Bugs) -> None:
    """The daemon refused the change whose test passes on the base; the agent said so."""
    [comment] = _comments(bugs, bugs.not_reproduced_by_test)
    assert "the tests do not reproduce the bug" in comment


def test_refused_patch_ends_with_needs_human(bugs: Bugs) -> None:
    """After the refusal the issue carries needs-human."""
    labels = bugs.factory.github.labels_of(REPO, bugs.not_reproduced_by_test)
    assert NEEDS_HUMAN in labels


def test_unreproducible_bug_gets_a_comment_and_needs_human(bugs: Bugs) -> None:
    """A bug that does not reproduce: one comment saying what was tried, and needs-human."""
    comments = _comments(bugs, bugs.not_reproducible)
    labels = bugs.factory.github.labels_of(REPO, bugs.not_reproducible)
    assert (len(comments), "Could not reproduce" in comments[0], NEEDS_HUMAN in labels) == (
        1,
        True,
        True,
    )


def test_builder_does_not_build_bugs(bugs: Bugs) -> None:
    """No builder run is started for an issue labelled bug."""
    subjects = {f"issue:{n}" for n in (bugs.fixed, bugs.not_reproduced_by_test)}
    assert [r for r in bugs.factory.runs("builder") if r.subject_key in subjects] == []
