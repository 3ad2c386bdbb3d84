"""Polling GitHub for the changes webhooks would bring, for hosts GitHub cannot reach.

Each poll lists the issues and pull requests updated since the cursor
(``repo.get_issues(state="all", since=..., sort="updated")``), reads each one's event
history, and turns ``opened`` (the issue itself), ``labeled``, ``unlabeled``, ``closed``
and ``reopened`` into the same Events the webhook produces: same kind
("issues.labeled", "pull_request.closed", ...), same webhook-shaped payload fields
(``action``, ``issue`` / ``pull_request``, ``label``, ``sender``), same trust rule, and the
same dedup key (``factory.forge.normalize.change_key``; its docstring says why both paths
agree and where they may not). Whichever path sees a change first stores it; the other
finds the key taken.

The cursor is the newest ``updated_at`` seen (GitHub's clock, not ours), kept per
repository in a small JSON file and written only after the poll's events are committed,
so a crash re-reads rather than skips. Each poll reaches back ``overlap`` before the
cursor because GitHub's listings can lag behind its writes; the dedup keys make
re-reading harmless. The first poll (no cursor) looks back ``lookback`` from now.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from factory.config.harness import TrustPolicy
from factory.events import Event, as_utc, utcnow
from factory.forge.normalize import change_key, github_time, subject_of
from factory.forge.trust import TrustResolver, sender_trust
from factory.store.event_log import EventLog

log = structlog.get_logger(__name__)

POLLED_EVENT_TYPES = ("labeled", "unlabeled", "closed", "reopened")
"""Issue-event types the poller turns into Events (``opened`` comes from the issue)."""


class PollCursor:
    """The newest ``updated_at`` seen per repository, in a JSON file that survives restarts."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def get(self, repo: str) -> datetime | None:
        """Return the cursor of ``repo``, or None if it was never polled (or no file).

        Raises ValueError for a file that is not the JSON this class writes.
        """
        if not self.path.is_file():
            return None
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"poll cursor file {self.path} does not hold a JSON object")
        value = data.get(repo)
        return as_utc(datetime.fromisoformat(value)) if isinstance(value, str) else None

    def set(self, repo: str, value: datetime) -> None:
        """Record ``value`` as the cursor of ``repo``; the file is replaced atomically."""
        data: dict[str, Any] = {}
        if self.path.is_file():
            data = json.loads(self.path.read_text(encoding="utf-8"))
        data[repo] = as_utc(value).isoformat()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


class GitHubPoller:
    """Finds new issue/PR changes of one repository and stores them as Events."""

    def __init__(
        self,
        repo: Any,
        store: EventLog,
        cursor_path: Path,
        *,
        every_s: float = 60.0,
        lookback: timedelta = timedelta(hours=1),
        overlap: timedelta = timedelta(seconds=30),
        trust_resolver: TrustResolver | None = None,
        trust_policy: TrustPolicy | None = None,
        bot_logins: Collection[str] = (),
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        """Poll PyGithub ``repo`` into ``store``, keeping the cursor in ``cursor_path``.

        ``on_stored`` is called after a poll that stored new events.
        Raises ValueError for a non-positive ``every_s`` or a negative window.
        """
        if every_s <= 0:
            raise ValueError(f"every_s must be positive, got {every_s}")
        if lookback < timedelta(0) or overlap < timedelta(0):
            raise ValueError("lookback and overlap must not be negative")
        self.repo = repo
        self.store = store
        self.cursor = PollCursor(cursor_path)
        self.every_s = every_s
        self.lookback = lookback
        self.overlap = overlap
        self.resolver = trust_resolver
        self.policy = trust_policy or TrustPolicy()
        self.bots = {b.lower() for b in bot_logins}
        self.on_stored = on_stored

    def poll_once(self, *, now: datetime | None = None) -> list[int]:
        """Store the changes made since the cursor; return the ids of events new to the store.

        Advances the cursor only after every event is committed. Raises what PyGithub,
        the trust resolver or the store raise; the cursor then stays where it was.
        """
        name = str(self.repo.full_name)
        cursor = self.cursor.get(name)
        since = (cursor - self.overlap) if cursor else as_utc(now or utcnow()) - self.lookback
        newest = cursor or since
        created: list[int] = []
        issues = self.repo.get_issues(state="all", since=since, sort="updated", direction="asc")
        for issue in issues:
            for event in self._events_of(issue, since):
                event_id, is_new = self.store.add_event(event)
                if is_new:
                    created.append(event_id)
            newest = max(newest, as_utc(issue.updated_at))
        self.cursor.set(name, newest)
        if created and self.on_stored is not None:
            self.on_stored()
        log.info("github_polled", repo=name, since=github_time(since), new_events=len(created))
        return created

    def run(self, stop: threading.Event) -> None:
        """Poll every ``every_s`` seconds until ``stop`` is set.

        A failed poll is logged and retried at the next tick (the cursor has not moved):
        GitHub being briefly unreachable must not end polling.
        """
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # one poll is the unit of work; see docstring
                log.warning("github_poll_failed", error=type(exc).__name__, detail=str(exc)[:500])
            stop.wait(self.every_s)

    def _events_of(self, issue: Any, since: datetime) -> list[Event]:
        """Return the Events for one issue's changes at or after ``since``."""
        event_name = "pull_request" if issue.pull_request is not None else "issues"
        obj = _issue_object(issue)
        found: list[Event] = []
        if as_utc(issue.created_at) >= since:
            found.append(self._event(event_name, "opened", obj, issue.user.login, None, None))
        for item in issue.get_events():
            if item.event not in POLLED_EVENT_TYPES or as_utc(item.created_at) < since:
                continue
            label = item.label.name if item.event in ("labeled", "unlabeled") else None
            actor = item.actor.login if item.actor is not None else None
            found.append(
                self._event(event_name, item.event, obj, actor, label, item, at=item.created_at)
            )
        return found

    def _event(
        self,
        event_name: str,
        action: str,
        obj: dict[str, Any],
        actor: str | None,
        label: str | None,
        item: Any,
        *,
        at: datetime | None = None,
    ) -> Event:
        """Return one Event shaped like the webhook's for the same change."""
        key_at = github_time(at) if at is not None else obj["created_at"]
        payload: dict[str, Any] = {
            "action": action,
            "issue" if event_name == "issues" else "pull_request": obj,
            "sender": {"login": actor} if actor else None,
            "_factory": {"via": "poller", "issue_event_id": item.id if item else None},
        }
        if label is not None:
            payload["label"] = {"name": label}
        return Event(
            source="github",
            kind=f"{event_name}.{action}",
            dedup_key=change_key(event_name, action, obj["number"], key_at, label),
            subject=subject_of(event_name, payload),
            actor=actor,
            trust=sender_trust(event_name, payload, policy=self.policy, resolver=self.resolver),
            by_factory=actor is not None and actor.lower() in self.bots,
            payload=payload,
        )


def _issue_object(issue: Any) -> dict[str, Any]:
    """Return the webhook-like fields of a PyGithub Issue, read without extra requests."""
    return {
        "number": issue.number,
        "title": issue.title,
        "body": issue.body,
        "html_url": issue.html_url,
        "state": issue.state,
        "user": {"login": issue.user.login},
        "author_association": issue.author_association,
        "labels": [{"name": label.name} for label in issue.labels],
        "created_at": github_time(issue.created_at),
        "updated_at": github_time(issue.updated_at),
    }
