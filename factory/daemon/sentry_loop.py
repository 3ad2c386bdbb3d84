"""Closing the loop with Sentry, by the daemon: resolve on merge, reopen on regression.

The same two halves as ``factory.daemon.followup``, and the same followups table:

``absorb(record)`` (part of ``Dispatcher.absorb``) only reads and writes the store:

* a pull request closing such an issue is linked ``issue:N → pull_request:M`` (the one
  helper of ``factory.daemon.closing``, shared with the thread follow-up);
* a merged pull request (``pull_request.closed``) linked to an issue that came from a Sentry
  issue (``sentry:ID → issue:N → pull_request:M``) records a ``sentry_resolve`` intent keyed
  ``sentry-loop:ID:resolve:pull_request:M``, when ``policy.sentry.resolve_on_merge``;
* a Sentry ``sentry.issue.unresolved`` (webhook or poll: their dedup keys agree) of a Sentry
  issue that already has a GitHub issue records a ``sentry_regression`` intent keyed by the
  event, with its ordinal among that Sentry issue's regressions and whether it is past
  ``policy.sentry.max_reopens`` — decided once, here, so a retry decides the same — and
  answers True: no responder run, no second issue.

``perform_pending()`` writes each intent, finding before writing:

* resolve: the Sentry issue is put ``resolvedInNextRelease`` unless it is resolved already
  (the fix reaches users with the next release; events of the release it was resolved in do
  not regress it), then a note with the pull request's link, found again by its marker;
* regression: if the GitHub issue is closed, a ``sentry_reenter`` intent is recorded
  *before* the issue is reopened; past the limit the issue gets ``needs-human`` instead;
  then one comment (new event count, release, Sentry link), found again by its marker.
  Every regression handled counts against the limit, whether the issue was closed or open;
* re-enter: once the issue is open again and still carries the approval label, the daemon
  stores one ``issues.labeled`` event that repeats the maintainer's stored approval (actor,
  trust and the text approved), so the builder runs now and not at its next sweep; the
  run-time check still confirms on GitHub who applied the label and that the text is the
  approved one.

Sentry's text is data: every comment goes through the one sanitizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import requests
import structlog
from github.GithubException import GithubException
from github.Repository import Repository

from factory.config.harness import Policy
from factory.crashpoints import crashpoint
from factory.daemon.closing import link_closing_pull, pull_of
from factory.daemon.followup import Outcome
from factory.errors import SentryError
from factory.events import Event, Subject
from factory.forge.markers import append_marker, has_marker
from factory.forge.outputs import CRASH_AFTER_GITHUB
from factory.forge.sanitize import sanitize_body
from factory.forge.subjects import approval_history
from factory.sentry.client import SentryClient
from factory.store import EventRecord, FollowupRecord, RunStore
from factory.store.lineage import SENTRY_PREFIX

log = structlog.get_logger(__name__)

RESOLVE, REGRESSION, REENTER = "sentry_resolve", "sentry_regression", "sentry_reenter"
LOOP_KINDS = (RESOLVE, REGRESSION, REENTER)
"""The follow-up kinds this module writes."""
LOOP_RUN = "sentry-loop"
"""What the hidden marker names as the writer of the loop's comments (no run)."""
REGRESSION_KIND = "sentry.issue.unresolved"
RESOLVE_STATUS = "resolvedInNextRelease"
_UNSAFE = re.compile(r"[^A-Za-z0-9:._-]")


def loop_key(issue_id: str, transition: str, target: str) -> str:
    """Return the follow-up key of one loop transition (marker-safe, at most 200 chars)."""
    return _UNSAFE.sub("-", f"sentry-loop:{issue_id}:{transition}:{target}")[:200]


def _retryable(exc: SentryError) -> bool:
    # Unreachable (0), rate-limited (429) or a server error: the intent waits for a later tick.
    return exc.status == 0 or exc.status == 429 or exc.status >= 500


class SentryLoop:
    """Decides and performs the daemon's Sentry resolutions and GitHub reopenings."""

    def __init__(
        self,
        store: RunStore,
        repo: Repository | None,
        client: SentryClient | None,
        policy: Callable[[], Policy],
        *,
        secrets: tuple[str, ...] = (),
        bot_login: str | None = None,
    ) -> None:
        """Write to GitHub through ``repo`` and to Sentry through ``client`` (None: that
        side is not configured; merges then record no resolution). ``bot_login`` is the
        factory's own login: an approval label it took off (the builder does, once its pull
        request is open) is put back on re-entry; one a person took off is not."""
        self.store = store
        self.bot_login = bot_login
        self.repo = repo
        self.client = client
        self.policy = policy
        self.secrets = secrets

    # -- deciding (store only) ------------------------------------------------------------

    def absorb(self, record: EventRecord) -> bool:
        """Record what ``record`` calls for; return True when it must start no run (a
        regression of a Sentry issue that already has its GitHub issue)."""
        event = record.event
        link_closing_pull(self.store, record)  # the thread follow-up may not be configured
        if event.source == "github" and event.kind == "pull_request.closed":
            self._merged(record)
        elif event.source == "sentry" and event.kind == REGRESSION_KIND:
            return self._regressed(record)
        return False

    def _merged(self, record: EventRecord) -> None:
        pr = pull_of(record.event.payload)
        if not isinstance(pr.get("number"), int) or pr.get("merged") is False:
            return
        if not self.policy().sentry.resolve_on_merge:
            return
        number = int(pr["number"])
        for issue in self.store.issues_of_pull(number):
            issue_id = self.store.sentry_issue_of(f"issue:{issue}")
            if issue_id is None:
                continue
            if self.client is None:
                log.info("sentry_resolve_unconfigured", issue_id=issue_id, pull=number)
                continue
            request = {
                "issue_id": issue_id,
                "issue": issue,
                "pull": number,
                "title": str(pr.get("title") or ""),
                "url": str(pr.get("html_url") or ""),
                "merged_check": None if pr.get("merged") else number,
            }
            key = loop_key(issue_id, "resolve", f"pull_request:{number}")
            self._intent(record, key, RESOLVE, issue_id, f"pull_request:{number}", request)

    def _regressed(self, record: EventRecord) -> bool:
        event = record.event
        issue_id = str(event.payload.get("issue_id") or "")
        if not issue_id and event.subject is not None:
            issue_id = str(event.subject.sentry_id or "")
        issues = self.store.issues_from(SENTRY_PREFIX + issue_id) if issue_id else []
        if not issues:
            return False  # not filed yet: the responder's work, not the loop's
        key = loop_key(issue_id, "regression", event.dedup_key)
        earlier = [
            row
            for row in self.store.followups_of_thread(SENTRY_PREFIX + issue_id)
            if row.kind == REGRESSION and row.status != "failed"
        ]
        limit = self.policy().sentry.max_reopens
        payload = event.payload
        request = {
            "issue_id": issue_id,
            "number": issues[-1],
            "ordinal": len(earlier) + 1,
            "max_reopens": limit,
            "needs_human": len(earlier) >= limit,
            "short_id": payload.get("short_id"),
            "count": payload.get("count"),
            "permalink": payload.get("permalink"),
            "last_seen": payload.get("last_seen"),
            "cause": event.dedup_key,
        }
        self._intent(record, key, REGRESSION, issue_id, f"issue:{issues[-1]}", request)
        return True

    def _intent(
        self,
        record: EventRecord,
        key: str,
        kind: str,
        issue_id: str,
        target: str,
        request: dict[str, Any],
    ) -> None:
        thread = SENTRY_PREFIX + issue_id
        _, new = self.store.record_followup_intent(
            key, kind, thread, target, request, event_id=record.id
        )
        if new:
            log.info("sentry_loop_decided", kind=kind, key=key, event_id=record.id)

    # -- performing -------------------------------------------------------------------------

    def perform_pending(self) -> list[FollowupRecord]:
        """Perform every pending loop intent whose side is configured (find, then write).

        A refusal by GitHub or Sentry marks the row failed; a connection error, a rate
        limit, a server error or a side not configured leaves it pending. Returns the rows
        settled now.
        """
        settled: list[FollowupRecord] = []
        tried: set[int] = set()
        while rows := [r for r in self.store.pending_followups(LOOP_KINDS) if r.id not in tried]:
            tried.update(row.id for row in rows)
            settled += self._perform_rows(rows)
        return settled

    def _perform_rows(self, rows: list[FollowupRecord]) -> list[FollowupRecord]:
        # A regression records its re-entry as it goes: the caller asks again for new rows.
        settled = []
        for row in rows:
            try:
                outcome = self._perform(row)
            except SentryError as exc:
                if _retryable(exc):
                    log.warning("sentry_loop_unreachable", key=row.key, status=exc.status)
                    continue
                outcome = Outcome("failed", error=f"Sentry answered HTTP {exc.status}")
            except GithubException as exc:
                outcome = Outcome("failed", error=f"GitHub answered HTTP {exc.status}")
            except (OSError, requests.RequestException) as exc:
                log.warning("sentry_loop_unreachable", key=row.key, error=type(exc).__name__)
                continue
            if outcome.status == "pending":
                continue
            self.store.mark_followup(row.id, outcome.status, url=outcome.url, error=outcome.error)
            log.info(
                "sentry_loop_" + outcome.status, key=row.key, url=outcome.url, error=outcome.error
            )
            settled.append(row)
        return settled

    def _perform(self, row: FollowupRecord) -> Outcome:
        if self.repo is None:
            return Outcome("pending")
        if row.kind == RESOLVE:
            return self._resolve(row, self.repo)
        if row.kind == REGRESSION:
            return self._regression(row, self.repo)
        return self._reenter(row, self.repo)

    def _resolve(self, row: FollowupRecord, repo: Repository) -> Outcome:
        if self.client is None:
            return Outcome("pending")
        request, issue_id = row.request, str(row.request["issue_id"])
        merged_check = request.get("merged_check")
        if merged_check is not None and not repo.get_pull(int(merged_check)).merged:
            return Outcome("failed", error=f"#{merged_check} was closed without merging")
        found = self.client.issue(issue_id)
        if found.get("status") != "resolved":
            self.client.update_issue(issue_id, status=RESOLVE_STATUS)
            crashpoint(f"{CRASH_AFTER_GITHUB}:{row.kind}")
        if self.client.find_note(issue_id, lambda text: has_marker(text, row.key)) is None:
            pull = f"#{request['pull']} {request.get('title') or ''}".strip()
            link = f"[{pull}]({request['url']})" if request.get("url") else pull
            text = (
                f"Resolved in the next release by factoryd: pull request {link} for GitHub "
                f"issue #{request['issue']} merged."
            )
            note = append_marker(sanitize_body(text, self.secrets), LOOP_RUN, row.key)
            self.client.comment(issue_id, note)
            crashpoint(f"{CRASH_AFTER_GITHUB}:{row.kind}:comment")
        return Outcome("applied", url=_str(found.get("permalink")))

    def _regression(self, row: FollowupRecord, repo: Repository) -> Outcome:
        request = row.request
        number = int(request["number"])
        labels = self.policy().labels
        issue = repo.get_issue(number)
        closed = issue.state == "closed"
        if closed and not request.get("needs_human"):
            # Intent first: a crash after the reopen still re-enters the loop on restart.
            issue_id = str(request["issue_id"])
            reenter = {"number": number, "issue_id": issue_id, "regression": row.key}
            self.store.record_followup_intent(
                loop_key(issue_id, "reenter", str(request["cause"])),
                REENTER,
                row.thread,
                row.target_key,
                reenter,
                event_id=row.event_id,
            )
        if closed:
            issue.edit(state="open")
        if request.get("needs_human") and labels.needs_human not in {x.name for x in issue.labels}:
            issue.add_to_labels(labels.needs_human)
        for comment in issue.get_comments():
            if has_marker(comment.body, row.key):
                return Outcome("applied", url=comment.html_url)
        body = sanitize_body(self._regression_text(request, closed), self.secrets)
        comment = issue.create_comment(append_marker(body, LOOP_RUN, row.key))
        crashpoint(f"{CRASH_AFTER_GITHUB}:{row.kind}")
        return Outcome("applied", url=comment.html_url)

    def _regression_text(self, request: Mapping[str, Any], reopened: bool) -> str:
        issue_id = str(request["issue_id"])
        count, release, link = request.get("count"), None, request.get("permalink")
        name = request.get("short_id") or issue_id
        if self.client is not None:
            found = self.client.issue(issue_id)
            count = found.get("count", count)
            last = found.get("lastRelease")
            release = last.get("version") if isinstance(last, Mapping) else None
            link = found.get("permalink") or link
            name = found.get("shortId") or name
        sentry = f"[{name}]({link})" if link else f"Sentry issue {name}"
        ordinal, limit = int(request["ordinal"]), int(request["max_reopens"])
        lines = [
            f"Sentry reports {sentry} unresolved again (a regression): "
            f"{count if count is not None else 'unknown'} events in all, "
            f"release {release or 'unknown'}.",
            "",
        ]
        if request.get("needs_human"):
            lines.append(
                f"This is regression {ordinal} of this Sentry issue; the factory reopens an "
                f"issue for at most {limit} regressions, so it needs a person now "
                f"(labelled `{self.policy().labels.needs_human}`)."
            )
        elif reopened:
            lines.append(
                f"Reopened so that the factory works on it again (regression {ordinal}; "
                f"after {limit} the issue goes to a person)."
            )
        else:
            lines.append(f"The issue is still open (regression {ordinal} of at most {limit}).")
        return "\n".join(lines)

    def _reenter(self, row: FollowupRecord, repo: Repository) -> Outcome:
        number = int(row.request["number"])
        cause = [
            r
            for r in self.store.followups_of_thread(row.thread)
            if r.key == row.request["regression"]
        ]
        if cause and cause[0].status == "intent":
            return Outcome("pending")  # the reopening has not been done yet
        labels = self.policy().labels
        issue = repo.get_issue(number)
        names = {x.name for x in issue.labels}
        if issue.state != "open":
            return Outcome("failed", error=f"#{number} is not open")
        if labels.needs_human in names:
            return Outcome("failed", error=f"#{number} is labelled {labels.needs_human}")
        approval, _ = approval_history(self.store, f"issue:{number}", {labels.ready})
        if approval is None or approval.event.trust != "maintainers":
            return Outcome("failed", error=f"no maintainer's approval of #{number} is stored")
        if labels.ready not in names:
            remover = _label_remover(issue, labels.ready)
            if not self.bot_login or (remover or "").lower() != self.bot_login.lower():
                return Outcome(
                    "failed", error=f"{labels.ready} was taken off #{number} by {remover}"
                )
            issue.add_to_labels(labels.ready)  # the factory's own removal, undone
        original = approval.event
        event = Event(
            source="github",
            kind=original.kind,
            dedup_key=f"{row.key}:event",
            subject=Subject(kind="issue", number=number),
            actor=original.actor,
            trust=original.trust,
            payload={
                **original.payload,
                "reentered": {
                    "sentry_issue": row.request["issue_id"],
                    "regression": row.request["regression"],
                    "approval_event": approval.id,
                },
                # the factory's own application of the label counts as the maintainer's
                # (daemon.vouch): it repeats the approval stored as approval_event
                "vouched": {"reentered": row.key, "approval_event": approval.id},
            },
        )
        event_id, new = self.store.add_event(event)
        if new:
            log.info("sentry_loop_reentered", issue=number, event_id=event_id)
        return Outcome("applied", url=issue.html_url)


def _label_remover(issue: Any, label: str) -> str | None:
    """Return the login that last took ``label`` off the issue, or None (never, or unknown)."""
    remover: str | None = None
    for event in issue.get_events():
        if event.event == "unlabeled" and event.label is not None and event.label.name == label:
            remover = event.actor.login if event.actor is not None else None
    return remover


def _str(value: Any) -> str | None:
    return str(value) if value else None
