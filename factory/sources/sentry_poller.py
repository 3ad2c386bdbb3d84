"""Polling Sentry for the issues webhooks would bring, for hosts Sentry cannot reach.

Each poll lists the organization's unresolved issues seen since the cursor
(``GET organizations/{org}/issues/?query=is:unresolved lastSeen:>=T project:SLUG&sort=date``,
Bearer token), following the ``Link`` cursor until ``rel="next"`` says ``results="false"``,
and turns what it finds into the Events the webhook produces, with the same dedup keys
(factory.sources.sentry says why both paths agree, and where they may not):

- an issue the poller never saw → ``sentry.issue.created`` (key shared with the
  ``issue.created`` webhook: whichever comes first stores it);
- a known issue now ``substatus: regressed`` that was not before, or whose newest
  ``set_regression`` activity (the issue read in full) is one not stored yet →
  ``sentry.issue.unresolved``, keyed by that regression's time as the webhook's is;
- a known issue whose ``lastSeen`` or ``count`` moved → ``sentry.issue.seen``, carrying the
  previous sight (count, users, lastSeen, when polled) so a trigger can tell a threshold just
  crossed (factory.config.triggers.SentryTrigger.matches).

The state — the cursor (the newest ``lastSeen`` seen, Sentry's clock) and the last sight of
each issue — is a small JSON file in the data directory, written atomically and only after
the poll's events are committed, so a crash re-reads rather than skips. Each poll reaches
back ``overlap`` before the cursor; the dedup keys make re-reading harmless. The first poll
(no state) looks back ``lookback`` from now.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from factory.events import Event, as_utc, utcnow
from factory.sentry.client import SentryClient
from factory.sources.sentry import count_of, issue_event
from factory.store.event_log import EventLog

log = structlog.get_logger(__name__)

MAX_KNOWN = 5000
"""Issues whose last sight the state keeps (the most recently seen); older ones are dropped."""


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def sentry_time(value: datetime) -> str:
    """Return ``value`` as Sentry's search syntax takes an absolute time (UTC, no zone)."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S")


class PollState:
    """The cursor and the last sight of each issue, in a JSON file that survives restarts."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> tuple[datetime | None, dict[str, dict[str, Any]]]:
        """Return (cursor, {issue id: last sight}); (None, {}) when there is no file.

        Raises ValueError for a file that is not the JSON this class writes.
        """
        if not self.path.is_file():
            return None, {}
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("issues", {}), dict):
            raise ValueError(f"Sentry poll state {self.path} is not the JSON this poller writes")
        return _parse_time(data.get("cursor")), dict(data.get("issues", {}))

    def save(self, cursor: datetime | None, issues: dict[str, dict[str, Any]]) -> None:
        """Write the state; the file is replaced atomically. Keeps the MAX_KNOWN issues seen
        last."""
        newest = sorted(issues.items(), key=lambda kv: str(kv[1].get("last_seen")), reverse=True)
        data = {
            "cursor": as_utc(cursor).isoformat() if cursor else None,
            "issues": dict(newest[:MAX_KNOWN]),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


class SentryPoller:
    """Finds new, regressed and changed unresolved issues of one project as Events."""

    def __init__(
        self,
        client: SentryClient,
        store: EventLog,
        state_path: Path,
        *,
        project: str | None = None,
        every_s: float = 60.0,
        lookback: timedelta = timedelta(hours=24),
        overlap: timedelta = timedelta(minutes=2),
        max_pages: int = 20,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        """Poll ``client``'s organization (only ``project``, a slug or id, when given) into
        ``store``, keeping the state in ``state_path``. ``on_stored`` is called after a poll
        that stored new events. Raises ValueError for a non-positive ``every_s`` or
        ``max_pages``, or a negative window."""
        if every_s <= 0:
            raise ValueError(f"every_s must be positive, got {every_s}")
        if max_pages <= 0:
            raise ValueError(f"max_pages must be positive, got {max_pages}")
        if lookback < timedelta(0) or overlap < timedelta(0):
            raise ValueError("lookback and overlap must not be negative")
        self.client = client
        self.store = store
        self.state = PollState(state_path)
        self.project = project
        self.every_s = every_s
        self.lookback = lookback
        self.overlap = overlap
        self.max_pages = max_pages
        self.on_stored = on_stored

    def poll_once(self, *, now: datetime | None = None) -> list[int]:
        """Store what changed since the cursor; return the ids of events new to the store.

        Advances the state only after every event is committed. Raises SentryError (and
        what the store raises); the state then stays where it was.
        """
        polled_at = as_utc(now or utcnow())
        cursor, known = self.state.load()
        since = (cursor - self.overlap) if cursor else polled_at - self.lookback
        newest = cursor
        created: list[int] = []
        for issue in self._issues(since):
            issue_id = str(issue.get("id", ""))
            if not issue_id.isdigit():
                continue
            sight = _sight(issue, polled_at)
            for event in self._events_of(issue, known.get(issue_id)):
                event_id, is_new = self.store.add_event(event)
                if is_new:
                    created.append(event_id)
            known[issue_id] = sight
            last_seen = _parse_time(issue.get("lastSeen"))
            if last_seen is not None and (newest is None or last_seen > newest):
                newest = last_seen
        self.state.save(newest, known)
        if created and self.on_stored is not None:
            self.on_stored()
        log.info("sentry_polled", since=sentry_time(since), new_events=len(created))
        return created

    def run(self, stop: threading.Event) -> None:
        """Poll every ``every_s`` seconds until ``stop`` is set.

        A failed poll is logged and retried at the next tick (the state has not moved):
        Sentry being briefly unreachable or rate limiting must not end polling.
        """
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # one poll is the unit of work; see docstring
                log.warning("sentry_poll_failed", error=type(exc).__name__, detail=str(exc)[:500])
            stop.wait(self.every_s)

    def _events_of(self, issue: dict[str, Any], previous: dict[str, Any] | None) -> list[Event]:
        """Return the Events one listed issue makes, given the poller's previous sight.

        A regressed issue whose substatus or lastSeen moved is read in full (one GET) for
        its newest regression's date: a second regression after a resolution the poller
        never saw (resolved issues are not listed) is then a new key, not a mere ``seen``.
        """
        if previous is None:
            return [issue_event(issue, "created", via="poller")]
        now = _sight(issue, utcnow())
        moved = (now["count"], now["last_seen"]) != (
            previous.get("count"),
            previous.get("last_seen"),
        )
        regressed = now["substatus"] == "regressed"
        if regressed and (moved or previous.get("substatus") != "regressed"):
            when = _regressed_at(self.client.issue(str(issue["id"])))
            if when is not None or previous.get("substatus") != "regressed":
                key_time = when or now["last_seen"]
                unresolved = issue_event(
                    issue, "unresolved", via="poller", previous=previous, regressed_at=key_time
                )
                if not self._stored(unresolved):
                    return [unresolved]
        return [issue_event(issue, "seen", via="poller", previous=previous)] if moved else []

    def _stored(self, event: Event) -> bool:
        """True when ``event``'s dedup key is already stored (the webhook came first, or an
        earlier poll saw this regression)."""
        assert event.subject_key is not None
        found = self.store.subject_events(event.subject_key, [event.kind])
        return any(record.event.dedup_key == event.dedup_key for record in found)

    def _issues(self, since: datetime) -> list[dict[str, Any]]:
        """Return every unresolved issue seen at or after ``since``, following the cursor
        for at most ``max_pages`` pages."""
        query = f"is:unresolved lastSeen:>={sentry_time(since)}"
        found: list[dict[str, Any]] = []
        page_cursor: str | None = None
        for _ in range(self.max_pages):
            page, page_cursor = self.client.issues(self.project, query, page_cursor)
            found.extend(item for item in page if isinstance(item, dict))
            if page_cursor is None:
                return found
        log.warning("sentry_poll_truncated", pages=self.max_pages, issues=len(found))
        return found


def _sight(issue: dict[str, Any], polled_at: datetime) -> dict[str, Any]:
    """What the poller remembers of an issue: its counts, lastSeen, substatus, and when."""
    return {
        "count": count_of(issue.get("count")),
        "user_count": count_of(issue.get("userCount")),
        "last_seen": issue.get("lastSeen"),
        "substatus": issue.get("substatus"),
        "polled_at": polled_at.isoformat(),
    }


def _regressed_at(detail: dict[str, Any]) -> str | None:
    """Return the date of the newest ``set_regression`` in an issue's activity (Sentry lists
    it newest first), or None."""
    activity = detail.get("activity")
    for entry in activity if isinstance(activity, list) else []:
        if isinstance(entry, dict) and entry.get("type") == "set_regression":
            when = entry.get("dateCreated")
            return str(when) if when else None
    return None
