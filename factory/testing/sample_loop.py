"""The full loop's scripted model: one FakeAnthropic responder that answers per automation.

``ScriptedLoop`` tells the automation from its system prompt and plays it, deciding each
step from the conversation like a model would: the planner is ``ScriptedPlanner``; the
builder fixes ``mean()`` (the vague issue) or adds a zero shortcut to ``mul()`` that breaks
negative numbers (the change the smoke check catches); the reviewer runs the tests on the
head and leaves one COMMENT review; the shepherd reads the head's checks and either adds the
missing test CI asked for and pushes it, or — checks green — asks the merge gate to merge;
the verifier runs the smoke commands and on failure files an issue and asks for the revert;
the bug fixer reproduces ``div(1, 0)`` with a failing test, then fixes it.

``LOOP_FILES`` is the sample's main after the maintainer's first commit of the loop world
(``add()`` fixed, ``div()`` added with its bug); ``SMOKE`` is the world's harness/smoke.md.
"""

from __future__ import annotations

import json
import re
from typing import Any

from factory.testing.fake_anthropic import FakeReply
from factory.testing.sample import READY, SAMPLE_FILES, tool_reply
from factory.testing.sample_planner import ScriptedPlanner

EDITOR = "str_replace_based_edit_tool"
TESTS = "python3 -m unittest -q"
SMOKE_CHECK = 'python3 -c "import calc; assert calc.mul(-2, 3) == -6"'
SMOKE = f"# Smoke checks\n\n## Commands\n\n```sh\n{TESTS}\n{SMOKE_CHECK}\n```\n"

DIV = '\n\ndef div(a, b):\n    """Return a / b (None when b is 0)."""\n    return a / b\n'
LOOP_FILES: dict[str, str | bytes] = {
    "calc.py": str(SAMPLE_FILES["calc.py"]).replace("a - b", "a + b") + DIV,
}
"""What the maintainer commits to main before the loop starts."""

VAGUE = ("mean is broken", "It crashes sometimes.")
SPEEDUP = ("mul(): skip the work when a factor is 0", "mul(0, x) should return at once.")
BUG = ("div(1, 0) raises ZeroDivisionError", "calc.div(1, 0) must return None, as documented.")

MAIN_BLOCK = 'if __name__ == "__main__":'
MEAN_TEST = (
    "    def test_mean_of_nothing(self):\n"
    "        self.assertEqual(calc.mean([]), 0.0)\n\n\n" + MAIN_BLOCK
)
DIV_TEST = (
    "    def test_div_by_zero_is_none(self):\n"
    "        self.assertIsNone(calc.div(1, 0))\n\n\n" + MAIN_BLOCK
)
CI_FAILURE = "coverage: calc.py line 17 (mean of an empty list) is not covered by any test"
REVIEW_MARK = "Reviewed fresh against the issue's acceptance criteria"
PUSH_MESSAGE = "Test mean() of an empty list"
Step = tuple[str, dict[str, Any], str]


def _edit(path: str, old: str, new: str) -> dict[str, Any]:
    return {"command": "str_replace", "path": path, "old_str": old, "new_str": new}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _last_result(body: dict[str, Any]) -> str:
    last = body["messages"][-1]["content"]
    for block in last if isinstance(last, list) else []:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            return _text(block.get("content"))
    return ""


def _results(body: dict[str, Any]) -> str:
    return "\n".join(_text(m["content"]) for m in body["messages"] if m["role"] == "user")


def _builder(first: str, number: int) -> list[Step]:
    if "mul()" in first:
        old = "    return a * b\n"
        new = "    return 0 if 0 in (a, b) else abs(a) * b\n"
        title = "Return at once from mul() when a factor is 0"
    else:
        old = "    return sum(values) / len(values)\n"
        new = "    return sum(values) / len(values) if values else 0.0\n"
        title = "Fix mean() dividing by zero on an empty list"
    body = f"Closes #{number}\n\n{title}.\n\nTested: `{TESTS}` passes."
    return [
        (EDITOR, {"command": "view", "path": "calc.py"}, "Reading the code."),
        (EDITOR, _edit("calc.py", old, new), "The change."),
        ("bash", {"command": f"{TESTS} 2>&1; echo exit=$?"}, "Running the tests."),
        ("output_open_pull_request", {"title": title, "body": body}, "Asking for the PR."),
        ("output_remove_labels", {"labels": [READY]}, "Done with ready."),
    ]


def _shepherd(body: dict[str, Any], number: int) -> list[Step]:
    steps: list[Step] = [("github_read", {"action": "checks", "number": number}, "Checks.")]
    if len(body["messages"]) < 3:
        return steps
    if "failure" in _text(body["messages"][2]["content"]):
        push = {"message": PUSH_MESSAGE, "summary": f"CI failed: {CI_FAILURE}; added the test."}
        return [
            *steps,
            (EDITOR, _edit("test_calc.py", MAIN_BLOCK, MEAN_TEST), "Adding the missing test."),
            ("bash", {"command": f"{TESTS} 2>&1; echo exit=$?"}, "The tests."),
            ("output_push_to_pull_request", push, "Pushing the fix."),
        ]
    reason = "Checks are green and a maintainer approved the head."
    return [*steps, ("output_merge_pull_request", {"reason": reason}, "Asking to merge.")]


def _verifier(body: dict[str, Any], number: int) -> list[Step] | FakeReply:
    run = ("bash", {"command": f"{TESTS} && {SMOKE_CHECK}; echo smoke-exit=$?"}, "Smoke.")
    if len(body["messages"]) >= 3 and "smoke-exit=0" in _text(body["messages"][2]["content"]):
        return FakeReply([{"type": "text", "text": "All smoke checks pass."}])
    issue = {"title": f"Smoke checks fail after #{number}", "body": f"`{SMOKE_CHECK}` exits 1."}
    revert = {"pull_number": number, "reason": f"`{SMOKE_CHECK}` fails after the merge."}
    return [
        run,
        ("output_create_issue", issue, "Filing the failure."),
        ("output_revert_pull_request", revert, "Asking for the revert."),
    ]


def _bug_fixer() -> list[Step]:
    return [
        (EDITOR, _edit("test_calc.py", MAIN_BLOCK, DIV_TEST), "A test that shows the bug."),
        (
            EDITOR,
            _edit("calc.py", "    return a / b\n", "    return a / b if b else None\n"),
            "Fix.",
        ),
        (
            "output_open_pull_request",
            {"title": "Return None from div() by zero", "body": "Fixes the reported bug."},
            "PR.",
        ),
        ("output_remove_labels", {"labels": [READY]}, "Done with ready."),
    ]


class ScriptedLoop:
    """Every automation of the loop, scripted (a FakeAnthropic responder)."""

    def __init__(self) -> None:
        self.planner = ScriptedPlanner()

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        """Return the next reply for the conversation in ``body``."""
        system = _text(body.get("system", ""))
        first = _text(body["messages"][0]["content"])
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        steps: list[Step] | FakeReply
        if "planner of this software factory" in system:
            return self.planner(body)
        if "feature builder" in system:
            number = re.search(r"Issue #(\d+)", system + first)
            steps = _builder(first, int(number[1]) if number else 0)
        elif "bug fixer" in system:
            steps = _bug_fixer()
        elif "adversarial reviewer" in system:
            review = {"event": "COMMENT", "body": f"{REVIEW_MARK}: criteria met, tests pass."}
            steps = [
                ("bash", {"command": f"{TESTS} 2>&1; echo exit=$?"}, "Running the tests."),
                ("output_review_pull_request", review, "Reviewing."),
            ]
        elif match := re.search(r"pull request #(\d+) \(head", system):
            steps = _shepherd(body, int(match[1]))
        elif match := re.search(r"Pull request #(\d+) \(.*was just merged", system + first):
            steps = _verifier(body, int(match[1]))
        else:
            return FakeReply([{"type": "text", "text": "Nothing for me to do here."}])
        if isinstance(steps, FakeReply):
            return steps
        if turn < len(steps):
            return tool_reply(turn, *steps[turn])
        return FakeReply([{"type": "text", "text": "Done."}])
