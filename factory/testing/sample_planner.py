"""The scripted planner: a FakeAnthropic responder that plays a planner session.

It reads the backlog with ``github_read``, posts one refinement comment (acceptance criteria,
affected areas, test plan), labels the priority and ``factory:planned``, then asks for the
approval label — which the output gate refuses unless the policy lets the planner approve.
Other automations get a polite no-op.
"""

from __future__ import annotations

import json
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


class ScriptedPlanner:
    """A deterministic planner session (a FakeAnthropic responder)."""

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        """Return the next reply for the conversation in ``body``."""
        if "planner of this software factory" not in json.dumps(body.get("system", "")):
            return FakeReply([{"type": "text", "text": "Nothing for me to do here."}])
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        steps: list[tuple[str, dict[str, Any], str]] = [
            ("github_read", {"action": "search_issues", "query": "is:issue is:open"}, "Backlog."),
            ("output_comment", {"body": REFINEMENT}, "Refining the issue."),
            ("output_add_labels", {"labels": [PRIORITY, PLANNED]}, "Priority."),
            ("output_add_labels", {"labels": [READY]}, "It is buildable: approving."),
        ]
        if turn < len(steps):
            return tool_reply(turn, *steps[turn])
        return FakeReply([{"type": "text", "text": "Planned: refined, medium priority."}])
