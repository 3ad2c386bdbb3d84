"""The scripted planner: a FakeAnthropic responder that plays a planner session.

It reads the backlog with ``github_read``, posts one refinement comment (acceptance criteria,
affected areas, test plan), labels the priority and ``factory:planned``, then asks for the
approval label — which the output gate refuses unless the policy lets the planner approve.
With ``split=True`` it also files two parts as sub-issues (``parent``: the subject). On a
sweep of an empty backlog (no subject) it reads quality.md from its system prompt and files
one issue per area graded below B, each with its ``dedupe`` key. Other automations get a
polite no-op.
"""

from __future__ import annotations

import json
import re
from typing import Any

from factory.testing.fake_anthropic import FakeReply
from factory.testing.sample import READY, tool_reply

REFINEMENT = (
    "**Acceptance criteria**\n- `calc.mean([])` returns 0.0\n\n"
    "**Affected areas**\n- `calc.py` (`mean`)\n\n"
    "**Test plan**\n- add `test_mean_of_nothing` to `test_calc.py`"
)
PRIORITY = "priority:medium"
PLANNED = "factory:planned"
PARTS = ("Part 1: the empty case", "Part 2: the docs")
_GRADE = re.compile(r"^\|\s*([A-Za-z][\w -]*?)\s*\|\s*([A-F])\s*\|", re.MULTILINE)


def weak_areas(system: str) -> list[str]:
    """Return the areas a quality.md table in ``system`` grades C, D or F, in order."""
    return [area for area, grade in _GRADE.findall(system) if grade in "CDF"]


class ScriptedPlanner:
    """A deterministic planner session (a FakeAnthropic responder)."""

    def __init__(self, *, split: bool = False) -> None:
        """``split``: also file the two ``PARTS`` as sub-issues of the subject."""
        self.split = split

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        """Return the next reply for the conversation in ``body``."""
        system = body.get("system", "")
        text = system if isinstance(system, str) else json.dumps(system)
        if "planner of this software factory" not in text:
            return FakeReply([{"type": "text", "text": "Nothing for me to do here."}])
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        read = ("github_read", {"action": "search_issues", "query": "is:issue is:open"}, "Backlog.")
        steps: list[tuple[str, dict[str, Any], str]] = [read]
        if "the backlog is empty" in text:
            for area in weak_areas(text.replace("\\n", "\n")):
                request = {
                    "title": f"Quality: {area}",
                    "body": f"**Acceptance criteria**\n- {area} is graded B or better",
                    "dedupe": f"quality:{area.lower().replace(' ', '-')}",
                }
                steps.append(("output_create_issue", request, f"Filing {area}."))
        else:
            steps += [
                ("output_comment", {"body": REFINEMENT}, "Refining the issue."),
                ("output_add_labels", {"labels": [PRIORITY, PLANNED]}, "Priority."),
                ("output_add_labels", {"labels": [READY]}, "It is buildable: approving."),
            ]
            subject = re.search(r"Your job is to make issue #(\d+)", text)
            if self.split and subject:
                steps += [
                    ("output_create_issue", {"title": t, "parent": int(subject[1])}, "A part.")
                    for t in PARTS
                ]
        if turn < len(steps):
            return tool_reply(turn, *steps[turn])
        return FakeReply([{"type": "text", "text": "Planned: refined, medium priority."}])
