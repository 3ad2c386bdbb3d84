"""A subject's story: everything the store knows about one piece of work, in time order.

Starting from one subject key (``issue:12``, ``pull_request:7``, ``slack:C1/1712.0001``,
``sentry:123``) the story gathers the subjects it is part of — what it came from (links to it,
transitively: a pull request's issue, that issue's Slack thread) and what grew out of it
(links from it, and the issues and pull requests its runs' outputs created) — then their
events, runs, outputs, links and follow-ups, merged into one timeline, and the clock:
opened → first run → pull request → merge → verified.

What the store cannot know is said, not guessed: there is no verifier verdict in the store,
so "verified" is the first run that succeeded after the merge on one of the story's subjects,
or the Sentry issue resolving after it; checks and reviews appear only as the GitHub events
the daemon stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from factory.store.dialect import json_value
from factory.store.lineage import FollowupRecord, SubjectLink
from factory.store.records import EventRecord, OutputRecord, RunRecord
from factory.store.runstore import RunStore
from factory.store.story_entries import (
    CREATES,
    StoryEntry,
    created_key,
    event_entry,
    followup_entry,
    is_merge,
    link_entry,
    output_entry,
    run_entry,
)
from factory.store.tables import events, followups, outputs, runs, subject_links

MAX_SUBJECTS = 40
"""At most this many subjects in one story (lineage is short; this bounds a bad graph)."""
MAX_DEPTH = 4
"""Links followed at most this many hops up and down from the subject."""
MAX_ROWS = 500
"""At most this many events, runs and outputs each in one story."""
CREATES_BY_PREFIX = {prefix: kind for kind, prefix in CREATES.items()}


@dataclass(frozen=True)
class Clock:
    """The times that matter for one piece of work (None: the store does not know it)."""

    opened: datetime | None = None
    first_run: datetime | None = None
    pull_request: datetime | None = None
    merged: datetime | None = None
    verified: datetime | None = None

    def steps(self) -> list[tuple[str, datetime | None, float | None]]:
        """Return (name, time, seconds since the previous known time) for each milestone."""
        out: list[tuple[str, datetime | None, float | None]] = []
        previous: datetime | None = None
        for name in ("opened", "first_run", "pull_request", "merged", "verified"):
            stamp: datetime | None = getattr(self, name)
            gap = (stamp - previous).total_seconds() if stamp and previous else None
            out.append((name, stamp, gap))
            previous = stamp or previous
        return out


@dataclass(frozen=True)
class Story:
    """One subject's story: the subjects it spans, the timeline, the clock, the totals."""

    key: str
    subjects: list[str]
    origin: str | None
    entries: list[StoryEntry]
    clock: Clock
    runs: list[RunRecord]
    outputs: list[OutputRecord]
    total_cost_usd: float
    unknown: list[str] = field(default_factory=list)
    """What the store cannot tell about this story (said on the page)."""

    @property
    def found(self) -> bool:
        """True when the store holds anything about the subject."""
        return bool(self.entries)


def _first(stamps: Iterable[datetime | None]) -> datetime | None:
    return min((s for s in stamps if s is not None), default=None)


class StoryQueries:
    """Read-only queries behind the subject page."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def story(self, key: str) -> Story:
        """Return the story of subject ``key`` (empty entries when the store knows nothing)."""
        subjects, links = self._subjects(key)
        origin = next((s for s in subjects if s.startswith(("slack:", "sentry:"))), None)
        keys = sorted(subjects)
        with self.store._read() as conn:
            run_rows = conn.execute(
                select(runs)
                .where(runs.c.subject_key.in_(keys))
                .order_by(runs.c.queued_at, runs.c.id)
                .limit(MAX_ROWS)
            ).mappings()
            run_list = [RunRecord.from_row(r) for r in run_rows]
            run_ids = [r.id for r in run_list]
            event_ids = {r.event_id for r in run_list if r.event_id is not None}
            event_rows = conn.execute(
                select(events)
                .where(
                    events.c.ignored.is_(None),
                    or_(events.c.subject_key.in_(keys), events.c.id.in_(sorted(event_ids))),
                )
                .order_by(events.c.id)
                .limit(MAX_ROWS)
            ).mappings()
            event_list = [EventRecord.from_row(r) for r in event_rows]
            output_rows = conn.execute(
                select(outputs)
                .where(outputs.c.run_id.in_(run_ids))
                .order_by(outputs.c.id)
                .limit(MAX_ROWS)
            ).mappings()
            output_list = [OutputRecord.from_row(r) for r in output_rows]
            threads = [k.removeprefix("slack:") for k in keys if k.startswith("slack:")]
            followup_rows = conn.execute(
                select(followups)
                .where(or_(followups.c.target_key.in_(keys), followups.c.thread.in_(threads)))
                .order_by(followups.c.id)
                .limit(MAX_ROWS)
            ).mappings()
            fields = FollowupRecord.__dataclass_fields__
            followup_list = [FollowupRecord(**{k: r[k] for k in fields}) for r in followup_rows]
        return self._assemble(
            key, keys, origin, run_list, event_list, output_list, links, followup_list
        )

    def _assemble(
        self,
        key: str,
        keys: list[str],
        origin: str | None,
        run_list: list[RunRecord],
        event_list: list[EventRecord],
        output_list: list[OutputRecord],
        links: Sequence[SubjectLink],
        followup_list: list[FollowupRecord],
    ) -> Story:
        subject_of = {r.id: r.subject_key for r in run_list}
        entries = [event_entry(e) for e in event_list]
        entries += [run_entry(r) for r in run_list]
        entries += [output_entry(o, subject_of.get(o.run_id)) for o in output_list]
        entries += [link_entry(link) for link in links]
        entries += [followup_entry(f) for f in followup_list]
        entries.sort(key=lambda e: (e.at, e.kind != "event", e.run_id or ""))
        clock = self._clock(entries, run_list, event_list, output_list)
        marks = {stamp: name for name, stamp, _ in reversed(clock.steps()) if stamp}
        marked: list[StoryEntry] = []
        for entry in entries:
            name = marks.pop(entry.at, None)
            marked.append(entry if name is None else _with_milestone(entry, name))
        unknown = ["verified: the store holds no verifier verdict (first success after merge)"]
        if clock.merged is None:
            unknown.append("merge: no merged pull_request.closed event or merge output stored")
        return Story(
            key=key,
            subjects=keys,
            origin=origin,
            entries=marked,
            clock=clock,
            runs=run_list,
            outputs=output_list,
            total_cost_usd=sum(r.cost_usd for r in run_list),
            unknown=unknown,
        )

    @staticmethod
    def _clock(
        entries: list[StoryEntry],
        run_list: list[RunRecord],
        event_list: list[EventRecord],
        output_list: list[OutputRecord],
    ) -> Clock:
        opened = _first(e.at for e in entries if e.kind in ("event", "run"))
        first_run = _first(r.started_at for r in run_list if r.status != "skipped")
        opened_prs = [
            e.event.received_at for e in event_list if e.event.kind == "pull_request.opened"
        ]
        made_prs = [
            o.updated_at
            for o in output_list
            if o.kind == "open_pull_request" and o.status == "applied"
        ]
        pull_request = _first([*opened_prs, *made_prs])
        merges = [e.event.received_at for e in event_list if is_merge(e)]
        merges += [
            o.updated_at
            for o in output_list
            if o.kind == "merge_pull_request" and o.status == "applied"
        ]
        merged = _first(merges)
        verified = None
        if merged is not None:
            after = [r.started_at for r in run_list if r.status == "succeeded" and r.started_at]
            after += [
                e.event.received_at for e in event_list if e.event.kind == "sentry.issue.resolved"
            ]
            verified = _first(s for s in after if s is not None and s > merged)
        return Clock(opened, first_run, pull_request, merged, verified)

    def _subjects(self, key: str) -> tuple[set[str], list[SubjectLink]]:
        """Return the subjects of ``key``'s story and the links between them.

        Up: links to a subject, transitively (what it came from). Down: links from it and
        subjects its runs' applied outputs created, transitively (what grew out of it).
        Siblings (another issue filed from the same thread) are not followed.
        """
        found, links = {key}, {}
        up, down = [key], [key]
        for _ in range(MAX_DEPTH):
            if len(found) >= MAX_SUBJECTS or not (up or down):
                break
            with self.store._read() as conn:
                rows = conn.execute(
                    select(subject_links).where(
                        or_(subject_links.c.to_key.in_(up), subject_links.c.from_key.in_(down))
                    )
                ).mappings()
                hop = [
                    SubjectLink(**{k: r[k] for k in SubjectLink.__dataclass_fields__}) for r in rows
                ]
                made = conn.execute(
                    select(outputs, runs.c.subject_key.label("run_subject"))
                    .select_from(outputs.join(runs, outputs.c.run_id == runs.c.id))
                    .where(and_(runs.c.subject_key.in_(down), outputs.c.kind.in_(list(CREATES))))
                ).mappings()
                created = [
                    (str(r["run_subject"]), created_key(OutputRecord.from_row(r))) for r in made
                ]
                makers = [str(k) for k in conn.execute(_makers_query(up)).scalars() if k]
            next_up, next_down = [], []
            for link in hop:
                links[link.id] = link
                if link.to_key in up and link.from_key not in found:
                    next_up.append(link.from_key)
                if link.from_key in down and link.to_key not in found:
                    next_down.append(link.to_key)
            next_down += [made_key for _, made_key in created if made_key and made_key not in found]
            next_up += [maker for maker in makers if maker not in found]
            found.update(next_up, next_down)
            up, down = sorted(set(next_up)), sorted(set(next_down))
        return found, sorted(links.values(), key=lambda link: link.id)


def _makers_query(keys: Sequence[str]) -> Any:
    """Return the query for the subjects of runs whose applied output created one of ``keys``
    (the issue a pull request was opened for, the thread an issue was filed from)."""
    wanted = [
        (CREATES_BY_PREFIX[k.split(":")[0]], int(k.split(":")[1]))
        for k in keys
        if k.split(":")[0] in CREATES_BY_PREFIX and k.split(":")[1].isdigit()
    ]
    if not wanted:
        return select(runs.c.subject_key).where(runs.c.id.is_(None))
    number = json_value(outputs.c.result, "$.number", "int")
    return (
        select(runs.c.subject_key)
        .select_from(outputs.join(runs, outputs.c.run_id == runs.c.id))
        .where(
            outputs.c.status == "applied",
            or_(*(and_(outputs.c.kind == kind, number == n) for kind, n in wanted)),
        )
        .distinct()
    )


def _with_milestone(entry: StoryEntry, name: str) -> StoryEntry:
    values = {k: getattr(entry, k) for k in StoryEntry.__dataclass_fields__}
    values["milestone"] = name
    return StoryEntry(**values)
