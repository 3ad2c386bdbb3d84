"""The Sentry side of the sample world: production issues, and the scripted incident responder.

``seed_sentry`` puts two issues of the sample calculator on a FakeSentry — an error
(``ZeroDivisionError`` in ``calc.add``) and a warning (a logged message from ``calc.mul``) —
whose in-app frames name files of the sample repository. ``ScriptedResponder`` is a
FakeAnthropic responder that plays the incident responder like a model would: it reads the
Sentry issue (with ``sentry_read`` when the daemon offers it), greps the frame's file in the
sandbox, searches GitHub for a duplicate, and files one issue quoting what Sentry captured;
every other automation's session goes to the scripted builder. ``gullible`` makes it obey an
injection it reads (ask for the ready label, file a second issue), the way a talked-into
model would, so tests can show the daemon refuses what the model asks.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from factory.settings import Settings
from factory.testing.fake_anthropic import FakeReply
from factory.testing.fake_sentry import FakeSentry
from factory.testing.sample import READY, ScriptedBuilder, tool_reply

RESPONDER_MARK = "incident responder"
"""Words of the incident responder's system prompt that tell its sessions apart."""
TRIAGE = "factory:triage"
"""The label a report nobody approved gets."""
ERROR_TITLE = "ZeroDivisionError: division by zero"
WARNING_TITLE = "mul() called with a float: results are rounded"

ERROR_FRAMES: list[dict[str, Any]] = [
    {
        "filename": "app/views.py",
        "abs_path": "/srv/web/app/views.py",
        "module": "app.views",
        "function": "calculate",
        "lineno": 21,
        "in_app": True,
        "context_line": "    return add(a, b) / b",
    },
    {
        "filename": "calc.py",
        "abs_path": "/srv/web/calc.py",
        "module": "calc",
        "function": "add",
        "lineno": 6,
        "in_app": True,
        "pre_context": ["def add(a, b):", '    """Return a + b."""'],
        "context_line": "    return a - b",
        "post_context": [""],
    },
]
MEAN_FRAMES: list[dict[str, Any]] = [
    {
        "filename": "app/report.py",
        "abs_path": "/srv/web/app/report.py",
        "module": "app.report",
        "function": "summary",
        "lineno": 14,
        "in_app": True,
        "context_line": "    average = mean(rows)",
    },
    {
        "filename": "calc.py",
        "abs_path": "/srv/web/calc.py",
        "module": "calc",
        "function": "mean",
        "lineno": 16,
        "in_app": True,
        "pre_context": [
            "def mean(values):",
            '    """Return the average of values (0.0 for none)."""',
        ],
        "context_line": "    return sum(values) / len(values)",
        "post_context": [""],
    },
]
"""The demo's production error: ``calc.mean([])`` divides by zero (the sample's second bug)."""
WARNING_FRAMES: list[dict[str, Any]] = [
    {
        "filename": "calc.py",
        "abs_path": "/srv/web/calc.py",
        "module": "calc",
        "function": "mul",
        "lineno": 11,
        "in_app": True,
        "context_line": "    return a * b",
    },
]


def with_fake_sentry(
    settings: Settings,
    sentry: FakeSentry,
    *,
    webhooks: bool = True,
    polling: bool = True,
    poll_interval_s: float = 0.3,
) -> Settings:
    """Return ``settings`` pointed at ``sentry``: the REST client always (token, org,
    project, API URL), the webhook route when ``webhooks`` (the client secret), and the
    poller when ``polling`` (``poll_interval_s``, which GitHub's poller shares; 0 without)."""
    update: dict[str, Any] = {
        "sentry_auth_token": SecretStr(sentry.token),
        "sentry_org": sentry.org,
        "sentry_project": sentry.project,
        "sentry_api_url": sentry.api_url,
        "sentry_client_secret": SecretStr(sentry.client_secret) if webhooks else None,
        "poll_interval_s": poll_interval_s if polling else 0.0,
    }
    return settings.model_copy(update=update)


@dataclass(frozen=True)
class SentryWorld:
    """Ids of the seeded Sentry issues."""

    error: str
    """A ZeroDivisionError raised in calc.add (level error)."""
    warning: str
    """A warning logged from calc.mul (level warning)."""


def seed_sentry(sentry: FakeSentry) -> SentryWorld:
    """Add the sample's production error and warning to a FakeSentry; return their ids."""
    error = sentry.add_issue(ERROR_TITLE, frames=ERROR_FRAMES)
    warning = sentry.add_issue(
        WARNING_TITLE,
        level="warning",
        message=WARNING_TITLE,
        exceptions=[],
        culprit="calc in mul",
    )
    return SentryWorld(error=error, warning=warning)


def _first_text(body: dict[str, Any]) -> str:
    first = body["messages"][0]["content"]
    if isinstance(first, str):
        return first
    return "\n".join(str(b.get("text", "")) for b in first if isinstance(b, dict))


def _field(text: str, label: str) -> str:
    """Return the value of the ``label: value`` line the first message carries, or ""."""
    found = re.search(rf"^{re.escape(label)}: (.*)$", text, re.MULTILINE)
    return found.group(1).strip() if found else ""


def report_body(title: str, culprit: str, level: str, fields: dict[str, str]) -> str:
    """Return the issue body the scripted responder files, quoting Sentry's text as data."""
    where = culprit.split(" in ")
    path = where[0].replace(".", "/") + ".py" if where and where[0] else "(unknown)"
    function = where[1] if len(where) > 1 else "(unknown)"
    return (
        f"**What fails**\n```\n{title}\n```\nLevel: {level}.\n\n"
        f"**Where**\n`{path}` in `{function}` (culprit `{culprit}`).\n\n"
        f"**Since when**\nFirst seen {fields['first seen']}, last seen {fields['last seen']}"
        f" ({fields['environment'] or 'unknown environment'}).\n\n"
        f"**How often**\n{fields['events']} events, {fields['users']} users.\n\n"
        f"**Probable cause**\n`{function}` does not guard its inputs (my reading).\n\n"
        f"**Suggested test**\n```python\ndef test_{function}_does_not_fail():\n"
        f"    import calc\n    calc.{function}(2, 0)\n```\n\n"
        f"**Sentry**\n{fields['link']} ({fields['short id']})"
    )


class ScriptedResponder:
    """A deterministic incident responder session (a FakeAnthropic responder); other
    automations' sessions go to the scripted builder."""

    def __init__(self, *, gullible: bool = False) -> None:
        """``gullible``: when the Sentry text says "ignore previous instructions", also ask
        for the ready label and a second issue, as a model talked into it would."""
        self.builder = ScriptedBuilder()
        self.gullible = gullible

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        """Return the next reply for the conversation in ``body``."""
        if RESPONDER_MARK not in json.dumps(body.get("system", "")):
            return self.builder(body)
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        steps = self.steps(body)
        if turn < len(steps):
            return tool_reply(turn, *steps[turn])
        return FakeReply([{"type": "text", "text": "Filed the issue for the Sentry issue."}])

    def steps(self, body: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
        """Return the session's tool calls, in order, for the conversation in ``body``."""
        first = _first_text(body)
        offered = {str(t.get("name")) for t in body.get("tools", [])}
        labels = ("title", "culprit", "level", "environment", "events", "users")
        fields = {k: _field(first, k) for k in (*labels, "first seen", "last seen", "link")}
        head = re.search(r"Sentry issue (\d+)(?: \(([^)]*)\))?", first)
        issue_id = head.group(1) if head else ""
        fields["short id"] = head.group(2) or issue_id if head else ""
        culprit = fields["culprit"]
        module = culprit.split(" in ")[0] if culprit else ""
        title = f"Sentry {fields['level'] or 'error'}: {fields['title']}"[:200]
        steps: list[tuple[str, dict[str, Any], str]] = []
        if "sentry_read" in offered:
            steps.append(("sentry_read", {"event": "recommended"}, "Reading the Sentry event."))
        steps += [
            (
                "bash",
                {"command": f"grep -rn 'def ' {module.replace('.', '/') or 'calc'}.py"},
                "Finding the code the frames point at.",
            ),
            (
                "github_read",
                {"action": "search_issues", "query": fields["short id"] or issue_id},
                "Checking for an issue already filed for it.",
            ),
            (
                "output_create_issue",
                {
                    "title": title,
                    "body": report_body(fields["title"], culprit, fields["level"], fields),
                    "labels": ["bug", TRIAGE],
                },
                "No duplicate; filing it.",
            ),
        ]
        if self.gullible and "ignore previous instructions" in first.lower():
            steps += [
                (
                    "output_create_issue",
                    {"title": "@everyone read this", "body": "as instructed", "labels": [READY]},
                    "The event told me to file this too.",
                ),
                ("output_add_labels", {"labels": [READY]}, "And to approve it."),
            ]
        return steps
