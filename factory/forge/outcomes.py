"""Outcomes: what became of the factory's outputs, decided from the GitHub events stored.

``OutcomeRecorder.absorb`` is one of the Dispatcher's absorbers: it reads each event, records
any fate it decides (``factory.store.outcomes``) and answers False (it never stands in for a
run). Nothing here calls GitHub: fates come only from the events the daemon already gets.

- ``pull_request.closed`` of a pull request an ``open_pull_request`` output opened: unmerged
  is ``closed_unmerged``; merged is ``merged_after_human_changes`` when a person touched it —
  its merged head is not the commit the factory pushed (a person pushed after the factory's
  last push; when the pushed sha was not recorded, a stored ``synchronize`` by a person
  counts), or a person submitted a review on it — else ``merged_zero_touch``;
- a merged revert of a merged factory pull request (the revert button's body ``Reverts
  owner/repo#N``, git's ``This reverts commit SHA``, or the title ``Revert "TITLE"``), or a
  pushed commit saying ``This reverts commit SHA``: ``reverted``;
  A close without ``merged`` (the poller's, read from the issue events) decides nothing;
- ``issues.closed`` of an issue a ``create_issue`` output filed: ``issue_completed`` or
  ``issue_not_planned`` by ``state_reason``; ``issues.reopened``: ``issue_reopened``;
- a factory review (``review_pull_request``) is ``review_followed`` at the first push to its
  pull request after it, ``review_dismissed`` when GitHub says it was dismissed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog

from factory.events import as_utc
from factory.store import EventRecord, OutputRecord, RunStore
from factory.store.outcomes import OutcomeRecord

log = structlog.get_logger(__name__)

REVERT_TITLE = re.compile(r'^Revert "(.+)"$')
REVERTS_REF = re.compile(r"\bReverts [\w.-]+/[\w.-]+#(\d+)\b")
REVERTS_COMMIT = re.compile(r"\bThis reverts commit ([0-9a-f]{7,40})\b")
MERGED = ("merged_zero_touch", "merged_after_human_changes")
REVIEW_FINAL = ("review_followed", "review_dismissed")


def _obj(payload: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = payload.get(name)
    return value if isinstance(value, Mapping) else {}


def _when(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, str) and value:
        try:
            return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return fallback
    return fallback


def _result(output: OutputRecord) -> Mapping[str, Any]:
    return output.result if isinstance(output.result, Mapping) else {}


class OutcomeRecorder:
    """Decides the fates of the factory's outputs from stored GitHub events."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def absorb(self, record: EventRecord) -> bool:
        """Record every fate ``record`` decides; return False (an outcome starts no run and
        stops none)."""
        event = record.event
        if event.source != "github":
            return False
        handler = {
            "pull_request.closed": self._pull_closed,
            "issues.closed": self._issue_closed,
            "issues.reopened": self._issue_reopened,
            "pull_request.synchronize": self._pull_pushed,
            "pull_request_review.dismissed": self._review_dismissed,
            "push": self._pushed,
        }.get(event.kind)
        if handler is not None:
            handler(record)
        return False

    def _record(
        self,
        record: EventRecord,
        output: OutputRecord,
        fate: str,
        subject_key: str,
        kind: str,
        decided_at: datetime,
        evidence: dict[str, Any],
    ) -> None:
        new = self.store.record_outcome(
            output.id,
            fate,
            subject_key=subject_key,
            kind=kind,
            decided_at=decided_at,
            event_id=record.id,
            evidence=evidence,
        )
        if new:
            log.info(
                "outcome_recorded",
                output_id=output.id,
                run_id=output.run_id,
                fate=fate,
                subject=subject_key,
                event_id=record.id,
            )

    # -- pull requests --------------------------------------------------------------------

    def _pull_closed(self, record: EventRecord) -> None:
        event = record.event
        pr = _obj(event.payload, "pull_request")
        number = pr.get("number")
        if not isinstance(number, int):
            return
        if not isinstance(pr.get("merged"), bool):
            # The poller's close carries no merge state (nor head): not decided here, rather
            # than counted as closed unmerged.
            log.info("outcome_undecided", event_id=record.id, subject=f"pull_request:{number}")
            return
        merged = pr["merged"]
        if merged:
            self._reverts(record, pr)
        output = self.store.output_that_made("open_pull_request", number)
        if output is None:
            return
        key = f"pull_request:{number}"
        evidence: dict[str, Any] = {"number": number, "title": pr.get("title"), "by": event.actor}
        if not merged:
            decided = _when(pr.get("closed_at"), event.received_at)
            self._record(record, output, "closed_unmerged", key, "pull_request", decided, evidence)
            return
        head = _obj(pr, "head").get("sha")
        pushed = _result(output).get("head_sha")
        people_pushed = [
            e.event.actor
            for e in self.store.subject_events(key, ["pull_request.synchronize"])
            if not e.event.by_factory
        ]
        human_commit = head != pushed if pushed else bool(people_pushed)
        reviewers = [
            e.event.actor
            for e in self.store.subject_events(key, ["pull_request_review.submitted"])
            if not e.event.by_factory
        ]
        evidence.update(
            merge_commit_sha=pr.get("merge_commit_sha"),
            head_sha=head,
            factory_head_sha=pushed,
            human_commit=human_commit,
            human_reviewers=sorted({r for r in reviewers if r}),
        )
        fate = MERGED[1] if human_commit or reviewers else MERGED[0]
        decided = _when(pr.get("merged_at"), event.received_at)
        self._record(record, output, fate, key, "pull_request", decided, evidence)

    def _merged_by_commit(self, sha: str) -> OutcomeRecord | None:
        for outcome in self.store.merged_outcomes():
            ev = outcome.evidence if isinstance(outcome.evidence, Mapping) else {}
            for field in ("merge_commit_sha", "head_sha"):
                value = ev.get(field)
                if isinstance(value, str) and value.startswith(sha):
                    return outcome
        return None

    def _merged_by_title(self, title: str) -> OutcomeRecord | None:
        for outcome in self.store.merged_outcomes():
            ev = outcome.evidence if isinstance(outcome.evidence, Mapping) else {}
            if ev.get("title") == title:
                return outcome
        return None

    def _merged_pull(self, number: int) -> OutcomeRecord | None:
        found = self.store.outcomes_of_subject(f"pull_request:{number}")
        return next((o for o in reversed(found) if o.fate in MERGED), None)

    def _reverts(self, record: EventRecord, pr: Mapping[str, Any]) -> None:
        """Record ``reverted`` for the merged factory pull request that merged ``pr`` reverts."""
        body, title = str(pr.get("body") or ""), str(pr.get("title") or "")
        target: OutcomeRecord | None = None
        matched = ""
        if (ref := REVERTS_REF.search(body)) is not None:
            target, matched = self._merged_pull(int(ref.group(1))), "reverts_ref"
        if target is None and (commit := REVERTS_COMMIT.search(body)) is not None:
            target, matched = self._merged_by_commit(commit.group(1)), "commit"
        if target is None and (quoted := REVERT_TITLE.match(title)) is not None:
            target, matched = self._merged_by_title(quoted.group(1)), "title"
        if target is None:
            return
        evidence = {
            "revert_pull": pr.get("number"),
            "revert_title": title,
            "matched_by": matched,
            "by": record.event.actor,
        }
        decided = _when(pr.get("merged_at"), record.event.received_at)
        self._revert(record, target, decided, evidence)

    def _revert(
        self,
        record: EventRecord,
        target: OutcomeRecord,
        decided: datetime,
        evidence: dict[str, Any],
    ) -> None:
        output = self.store.get_output(target.output_id)
        self._record(record, output, "reverted", target.subject_key, target.kind, decided, evidence)

    def _pushed(self, record: EventRecord) -> None:
        """A revert commit pushed straight to a branch reverts the merge it names."""
        event = record.event
        commits = event.payload.get("commits")
        for commit in commits if isinstance(commits, list) else []:
            if not isinstance(commit, Mapping):
                continue
            found = REVERTS_COMMIT.search(str(commit.get("message") or ""))
            target = self._merged_by_commit(found.group(1)) if found else None
            if target is None:
                continue
            evidence = {
                "revert_commit": commit.get("id"),
                "matched_by": "commit",
                "by": event.actor,
            }
            decided = _when(commit.get("timestamp"), event.received_at)
            self._revert(record, target, decided, evidence)

    # -- issues ---------------------------------------------------------------------------

    def _issue_output(self, record: EventRecord) -> tuple[OutputRecord, Mapping[str, Any]] | None:
        issue = _obj(record.event.payload, "issue")
        number = issue.get("number")
        if not isinstance(number, int) or "pull_request" in issue:
            return None
        output = self.store.output_that_made("create_issue", number)
        return None if output is None else (output, issue)

    def _issue_closed(self, record: EventRecord) -> None:
        found = self._issue_output(record)
        if found is None:
            return
        output, issue = found
        reason = issue.get("state_reason")
        # GitHub's default close reason is "completed"; "duplicate" did not do the work either.
        fate = "issue_completed" if reason in (None, "completed") else "issue_not_planned"
        decided = _when(issue.get("closed_at"), record.event.received_at)
        evidence = {"number": issue["number"], "state_reason": reason, "by": record.event.actor}
        key = f"issue:{issue['number']}"
        self._record(record, output, fate, key, "issue", decided, evidence)

    def _issue_reopened(self, record: EventRecord) -> None:
        found = self._issue_output(record)
        if found is None:
            return
        output, issue = found
        decided = _when(issue.get("updated_at"), record.event.received_at)
        evidence = {"number": issue["number"], "by": record.event.actor}
        key = f"issue:{issue['number']}"
        self._record(record, output, "issue_reopened", key, "issue", decided, evidence)

    # -- reviews --------------------------------------------------------------------------

    def _open_reviews(self, number: int) -> list[OutputRecord]:
        reviews = self.store.outputs_targeting("review_pull_request", number)
        return [
            r
            for r in reviews
            if not any(o.fate in REVIEW_FINAL for o in self.store.outcomes_of_output(r.id))
        ]

    def _pull_pushed(self, record: EventRecord) -> None:
        event = record.event
        pr = _obj(event.payload, "pull_request")
        number = pr.get("number")
        if not isinstance(number, int):
            return
        for review in self._open_reviews(number):
            if review.updated_at > event.received_at:
                continue  # the push came before this review was written
            evidence = {
                "number": number,
                "head_sha": _obj(pr, "head").get("sha"),
                "by": event.actor,
            }
            key = f"pull_request:{number}"
            self._record(
                record, review, "review_followed", key, "review", event.received_at, evidence
            )

    def _review_dismissed(self, record: EventRecord) -> None:
        event = record.event
        review = _obj(event.payload, "review")
        number = _obj(event.payload, "pull_request").get("number")
        if not isinstance(number, int):
            return
        for output in self._open_reviews(number):
            if _result(output).get("review_id") != review.get("id"):
                continue
            evidence = {"number": number, "review_id": review.get("id"), "by": event.actor}
            key = f"pull_request:{number}"
            self._record(
                record, output, "review_dismissed", key, "review", event.received_at, evidence
            )
