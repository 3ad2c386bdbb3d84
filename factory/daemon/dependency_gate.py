"""The dependency gate: no builder run on an issue whose dependencies are open.

``refusal(automation, event)`` (``Dispatcher.gate``) is asked for every run dispatch is about
to create. It answers only for *gated* automations — subject ``issue`` and an
``open_pull_request`` output, the ones that build — and reads the issue on GitHub
(``factory.forge.dependencies``: "Depends on #N" / "Blocked by #N" in the body, and open
sub-issues). While any is open the run is created ``skipped`` with the reason (``blocked:
waits for open #3, #4``), which ``factoryd runs`` and the viewer show, and a
``dependency_wait`` follow-up is recorded: the issue, its blockers and the event held back.

``absorb(record)`` (part of ``Dispatcher.absorb``) watches for a blocker closing: an
``issues.closed`` event, or a merged pull request whose body closes issues. For every waiting
issue that named it, the issue is read again; when nothing blocks it any more the daemon
stores one event that repeats the held-back event (same kind, actor, trust and payload, a new
dedup key) so the builder runs now, not at its next sweep, and the waits are marked applied.

A cycle (``#A → #B → #A``) is reported on the gated issue with one comment carrying the
marker ``dependency-cycle:N``; the comments are searched for it before writing, so a restart
or the next sweep never writes it twice. A GitHub error while reading blocks the run (fail
closed): the reason says so and the sweep tries again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from github.GithubException import GithubException
from github.Repository import Repository

from factory.config.automation import Automation
from factory.config.harness import Policy
from factory.daemon.closing import closed_issues, pull_of
from factory.events import Event, utcnow
from factory.forge.dependencies import Blockers, DependencyReader, blockers
from factory.forge.markers import append_marker, has_marker
from factory.forge.sanitize import sanitize_body
from factory.store import EventRecord, RunStore

log = structlog.get_logger(__name__)

WAIT = "dependency_wait"
"""The follow-up kind of an issue held back by its dependencies."""
WRITER = "dependencies"
"""What the hidden marker names as the writer of the cycle comment (no run)."""
BLOCKED = "blocked: "
"""How every refusal of this gate starts."""


def gated(automation: Automation) -> bool:
    """Return whether ``automation`` builds issues (subject issue, opens pull requests)."""
    return automation.subject == "issue" and automation.outputs.open_pull_request is not None


def _numbers(found: tuple[int, ...]) -> str:
    return ", ".join(f"#{n}" for n in found)


class DependencyGate:
    """Holds builder runs back while their issue's dependencies are open, and lets them go."""

    def __init__(
        self,
        store: RunStore,
        repo: Repository,
        policy: Callable[[], Policy],
        *,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.store = store
        self.repo = repo
        self.policy = policy
        self.secrets = secrets

    # -- holding back ---------------------------------------------------------------------

    def refusal(self, automation: Automation, event: Event, event_id: int | None) -> str | None:
        """Return why ``automation`` may not build ``event``'s issue now, or None."""
        subject = event.subject
        if not gated(automation) or subject is None or subject.kind != "issue":
            return None
        number = subject.number
        if number is None:
            return None
        reader = DependencyReader(self.repo)
        try:
            state = reader.issue(number)
            if state is None:
                return None
            found = blockers(reader, number, state.body)
        except GithubException as exc:
            log.warning("dependencies_unreadable", issue=number, status=exc.status)
            return f"{BLOCKED}dependencies of #{number} could not be read (GitHub {exc.status})"
        if not found.open:
            return None
        self._wait(number, found, event_id)
        reason = f"{BLOCKED}waits for open {_numbers(found.open)}"
        if found.cycle is not None:
            self._report_cycle(number, found.cycle)
            reason += f"; dependency cycle {' → '.join(f'#{n}' for n in found.cycle)}"
        return reason

    def _wait(self, number: int, found: Blockers, event_id: int | None) -> None:
        if event_id is None:
            return
        self.store.record_followup_intent(
            f"dependency-wait:{number}:{event_id}",
            WAIT,
            f"issue:{number}",
            f"issue:{number}",
            {"number": number, "blockers": list(found.open), "event_id": event_id},
            event_id=event_id,
        )
        log.info("dependency_wait", issue=number, blockers=list(found.open))

    def _report_cycle(self, number: int, cycle: tuple[int, ...]) -> None:
        key = f"dependency-cycle:{number}"
        try:
            issue = self.repo.get_issue(number)
            for comment in issue.get_comments():
                if has_marker(comment.body, key):
                    return
            path = " → ".join(f"#{n}" for n in cycle)
            text = (
                f"This issue is part of a dependency cycle: {path}. Each waits for the next "
                "to close, so the factory will build none of them. Remove one of the "
                '"Depends on" / "Blocked by" lines (or a sub-issue link) to break it.'
            )
            body = append_marker(sanitize_body(text, self.secrets), WRITER, key)
            issue.create_comment(body)
            log.info("dependency_cycle_reported", issue=number, cycle=list(cycle))
        except GithubException as exc:  # reported at the next dispatch of this issue
            log.warning("dependency_cycle_unreported", issue=number, status=exc.status)

    # -- letting go -----------------------------------------------------------------------

    def absorb(self, record: EventRecord) -> bool:
        """Release the issues waiting for the issue(s) ``record`` closes; never absorbs."""
        closed = _closed_by(record.event)
        if not closed:
            return False
        waits = [
            w
            for w in self.store.pending_followups([WAIT])
            if set(w.request.get("blockers") or []) & set(closed)
        ]
        by_issue: dict[int, list[Any]] = {}
        for wait in waits:
            by_issue.setdefault(int(wait.request["number"]), []).append(wait)
        for number, held in by_issue.items():
            self._release(number, held, record)
        return False

    def _release(self, number: int, held: list[Any], cause: EventRecord) -> None:
        reader = DependencyReader(self.repo)
        try:
            state = reader.issue(number)
            found = blockers(reader, number, state.body) if state and state.open else None
        except GithubException as exc:
            log.warning("dependencies_unreadable", issue=number, status=exc.status)
            return  # the waits stay; the next close or the sweep tries again
        if found is not None and found.open:
            return
        if state is not None and state.open:
            latest = max(held, key=lambda w: int(w.request["event_id"]))
            original = self.store.get_event(int(latest.request["event_id"])).event
            event = original.model_copy(
                update={
                    "dedup_key": f"dependency-release:{number}:{latest.id}",
                    "received_at": utcnow(),
                    "payload": {
                        **original.payload,
                        "released": {"after": cause.id, "held_event": latest.request["event_id"]},
                    },
                }
            )
            event_id, new = self.store.add_event(event)
            if new:
                log.info("dependency_released", issue=number, event_id=event_id)
        for wait in held:
            self.store.mark_followup(wait.id, "applied")


def _closed_by(event: Event) -> list[int]:
    """Return the issues ``event`` says are closed: the issue of ``issues.closed``, the
    issues a merged pull request's body closes."""
    if event.source != "github":
        return []
    if event.kind == "issues.closed" and event.subject is not None:
        return [event.subject.number] if event.subject.number is not None else []
    if event.kind == "pull_request.closed":
        pr = pull_of(event.payload)
        if pr.get("merged"):
            return closed_issues(pr.get("body"))
    return []
