"""Manual runs: a person at the console or in the viewer asks for one automation by name.

A manual event carries maintainer trust (the person has the daemon's console or the viewer's
token) and always names its automation; dispatch turns it into that automation's run at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from factory.config.automation import Automation
from factory.events import Event, Subject
from factory.ids import new_id


def manual_event(
    automations: Mapping[str, Automation],
    automation: str,
    *,
    subject: Subject | None = None,
    task: str | None = None,
) -> tuple[Automation, Event]:
    """Return the named automation and the manual Event that asks for a run of it.

    Raises ValueError for an unknown or disabled automation, or a subject of the wrong kind,
    naming what to pass.
    """
    spec = automations.get(automation)
    if spec is None:
        raise ValueError(f"no automation named {automation!r}")
    if not spec.enabled:
        raise ValueError(f"automation {automation!r} is disabled")
    if spec.subject in ("issue", "pull_request") and (
        subject is None or subject.kind != spec.subject
    ):
        what, flag = (
            ("an issue", "--issue N") if spec.subject == "issue" else ("a pull request", "--pr N")
        )
        raise ValueError(f"automation {automation!r} works on {what}: pass {flag}")
    payload: dict[str, Any] = {"automation": automation}
    if task:
        payload["task"] = task
    return spec, Event(
        source="manual",
        kind="manual",
        dedup_key=f"manual:{new_id()}",
        subject=subject,
        actor="cli",
        trust="maintainers",
        payload=payload,
    )
