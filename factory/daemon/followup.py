"""Thread follow-up: the daemon, not a model, keeps a Slack thread told about its issue.

Two halves, so that deciding never waits on the network and writing is crash-safe:

``absorb(record)`` runs for each stored event just before dispatch (``Dispatcher.absorb``)
and only reads and writes the store:

* a GitHub event about an issue or pull request the lineage ties to a thread records one
  follow-up intent per transition: ``pr_opened`` (a pull request whose body closes the
  issue; ``factory.daemon.closing`` links ``issue:N → pull_request:M``), ``pr_merged``,
  ``issue_closed`` and ``needs_human`` (the issue or PR got that label). The key is
  ``followup:<channel>:<ts>:<transition>:<target>``, unique in the store, so a transition
  seen twice (webhook and poller, a dispatch repeated after a crash) is one update;
* a Slack mention in a thread whose linked issue is open records an ``issue_comment``
  intent and answers True: the dispatcher makes no run of it (no second intake issue).

``perform_pending()`` runs in the daemon's loop after dispatch and writes each intent:
first it looks for the write by its key (Slack message metadata, or the hidden GitHub
marker — the same marks the output gate uses), and only if none is found it writes. So a
kill between Slack's answer and the local commit never makes a second update.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import requests
import structlog
from github.GithubException import GithubException
from github.Repository import Repository
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from factory.crashpoints import crashpoint
from factory.daemon.closing import closed_issues as closed_issues
from factory.daemon.closing import link_closing_pull
from factory.forge.markers import append_marker, has_marker
from factory.forge.outputs import CRASH_AFTER_GITHUB
from factory.forge.sanitize import sanitize_body
from factory.forge.slack_outputs import escape_slack, slack_link, slack_text
from factory.slack.messages import SlackThread, find_message, permalink, post_message
from factory.store import EventRecord, FollowupRecord, RunStore

log = structlog.get_logger(__name__)

FOLLOWUP_RUN = "followup"
"""What the hidden GitHub marker names as the writer of a follow-up comment (no run)."""
MENTION_KINDS = ("app_mention", "message.im")
FOLLOWUP_KINDS = ("slack_update", "issue_comment")
"""The follow-up kinds this module writes (the Sentry loop writes its own)."""
_SLACK_MARKUP = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def slack_to_plain(text: str, bot_user_id: str | None = None) -> str:
    """Return Slack message text as plain text: the bot's own mention dropped, ``<@U1>`` as
    ``@U1``, ``<!here>`` as ``@here``, links as ``label (url)``, entities unescaped."""
    if bot_user_id:
        text = text.replace(f"<@{bot_user_id}>", "")

    def plain(match: re.Match[str]) -> str:
        target, label = match[1], match[2]
        if target.startswith("@") or target.startswith("#"):
            return target[0] + label if label else target
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        return f"{label} ({target})" if label else target

    text = _SLACK_MARKUP.sub(plain, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


@dataclass(frozen=True)
class Outcome:
    """How performing one follow-up ended: applied (url), failed (error) or still pending."""

    status: Literal["applied", "failed", "pending"]
    url: str | None = None
    error: str | None = None


def _thread_key(thread: str, transition: str, target: str) -> str:
    # Marker-safe (no "/"): the same key is checked in GitHub markers and Slack metadata.
    return f"followup:{thread.replace('/', ':')}:{transition}:{target}"


class Followup:
    """Decides and performs the daemon's thread updates and thread-to-issue comments."""

    def __init__(
        self,
        store: RunStore,
        slack: WebClient | None,
        repo: Repository | None,
        *,
        bot_user_id: str | None = None,
        bot_id: str | None = None,
        needs_human: str = "needs-human",
        secrets: tuple[str, ...] = (),
    ) -> None:
        """Write to Slack through ``slack`` and to GitHub through ``repo`` (None: that side
        is not configured and its follow-ups wait)."""
        self.store = store
        self.slack = slack
        self.repo = repo
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.needs_human = needs_human
        self.secrets = secrets

    # -- deciding (store only) ------------------------------------------------------------

    def absorb(self, record: EventRecord) -> bool:
        """Record the follow-ups ``record`` calls for; return True when it must start no run
        (a mention in a thread whose issue is open, turned into an issue comment)."""
        event = record.event
        if event.source == "github":
            self._github(record)
            return False
        if event.source == "slack" and event.kind in MENTION_KINDS:
            return self._thread_reply(record)
        return False

    def _intent(
        self, record: EventRecord, thread: str, transition: str, target: str, request: Any
    ) -> None:
        key = _thread_key(thread, transition, target)
        _, new = self.store.record_followup_intent(
            key, "slack_update", thread, target, request, event_id=record.id
        )
        if new:
            log.info("followup_decided", transition=transition, target=target, event_id=record.id)

    def _github(self, record: EventRecord) -> None:
        event, payload = record.event, record.event.payload
        kind = event.kind
        pr = payload.get("pull_request")
        pr = pr if isinstance(pr, Mapping) else {}
        linked = link_closing_pull(self.store, record)
        if kind == "pull_request.opened" and isinstance(pr.get("number"), int):
            number = int(pr["number"])
            for issue in linked:
                thread = self.store.slack_thread_of(f"issue:{issue}")
                if thread is None:
                    continue
                text = f"A pull request for #{issue} is open: " + _pr_link(pr)
                self._intent(record, thread, "pr_opened", f"pull_request:{number}", {"text": text})
        elif kind == "pull_request.closed" and isinstance(pr.get("number"), int):
            number = int(pr["number"])
            if pr.get("merged") is False:
                return
            for thread in self._threads_of_pull(number):
                text = "Merged: " + _pr_link(pr)
                request = {"text": text, "merged_check": None if pr.get("merged") else number}
                self._intent(record, thread, "pr_merged", f"pull_request:{number}", request)
        elif kind == "issues.closed" and event.subject is not None:
            key = f"issue:{event.subject.number}"
            thread = self.store.slack_thread_of(key)
            closed = payload.get("issue")
            reason = closed.get("state_reason") if isinstance(closed, Mapping) else None
            if thread is not None:
                said = f"#{event.subject.number} was closed" + (f" ({reason})." if reason else ".")
                self._intent(record, thread, "issue_closed", key, {"text": escape_slack(said)})
        elif kind.endswith(".labeled") and event.subject_key is not None:
            label = payload.get("label")
            name = label.get("name") if isinstance(label, Mapping) else None
            thread = self.store.slack_thread_of(event.subject_key)
            if name == self.needs_human and thread is not None and event.subject is not None:
                said = f"#{event.subject.number} needs a person now (labelled {name})."
                request = {"text": escape_slack(said)}
                self._intent(record, thread, "needs_human", event.subject_key, request)

    def _threads_of_pull(self, number: int) -> list[str]:
        threads = [
            self.store.slack_thread_of(f"issue:{n}") for n in self.store.issues_of_pull(number)
        ]
        return list(dict.fromkeys(t for t in threads if t is not None))

    def _issue_open(self, number: int) -> bool:
        changes = self.store.subject_events(f"issue:{number}", ["issues.closed", "issues.reopened"])
        return not changes or changes[-1].event.kind == "issues.reopened"

    def _thread_reply(self, record: EventRecord) -> bool:
        event = record.event
        thread = event.subject.thread if event.subject is not None else None
        issue = self.store.issue_of_thread(thread) if thread else None
        if thread is None or issue is None or not self._issue_open(issue):
            return False
        payload = event.payload
        request = {
            "number": issue,
            "user": event.actor,
            "trust": event.trust,
            "text": str(payload.get("text") or ""),
            "ts": payload.get("ts"),
        }
        key = _thread_key(thread, "comment", event.dedup_key)
        self.store.record_followup_intent(
            key, "issue_comment", thread, f"issue:{issue}", request, event_id=record.id
        )
        log.info("followup_thread_reply", issue=issue, event_id=record.id)
        return True

    # -- performing -------------------------------------------------------------------------

    def perform_pending(self) -> list[FollowupRecord]:
        """Write every pending follow-up whose side is configured (find first, then write).

        A refusal by Slack or GitHub marks the row failed; a connection error, or a side not
        configured, leaves it pending for the next call. Returns the rows settled now.
        """
        settled = []
        for row in self.store.pending_followups(kinds=FOLLOWUP_KINDS):
            try:
                outcome = self._perform(row)
            except (SlackApiError, GithubException) as exc:
                outcome = Outcome("failed", error=_reason(exc))
            except (OSError, requests.RequestException) as exc:
                log.warning("followup_unreachable", key=row.key, error=type(exc).__name__)
                continue
            if outcome.status == "pending":
                continue
            self.store.mark_followup(row.id, outcome.status, url=outcome.url, error=outcome.error)
            log.info(
                "followup_" + outcome.status, key=row.key, url=outcome.url, error=outcome.error
            )
            settled.append(row)
        return settled

    def _perform(self, row: FollowupRecord) -> Outcome:
        if row.kind == "issue_comment":
            return self._comment(row)
        if self.slack is None:
            return Outcome("pending")
        merged_check = row.request.get("merged_check")
        if merged_check is not None:
            if self.repo is None:
                return Outcome("pending")
            if not self.repo.get_pull(int(merged_check)).merged:
                return Outcome("failed", error=f"#{merged_check} was closed without merging")
        thread = SlackThread.parse(row.thread)
        found = find_message(self.slack, thread, row.key, bot_id=self.bot_id)
        if found is None:
            found = post_message(self.slack, thread, row.request["text"], row.key)
            crashpoint(f"{CRASH_AFTER_GITHUB}:{row.kind}")
        return Outcome("applied", url=found.url)

    def _comment(self, row: FollowupRecord) -> Outcome:
        if self.repo is None:
            return Outcome("pending")
        issue = self.repo.get_issue(int(row.request["number"]))
        for comment in issue.get_comments():
            if has_marker(comment.body, row.key):
                return Outcome("applied", url=comment.html_url)
        body = append_marker(self._comment_body(row), FOLLOWUP_RUN, row.key)
        comment = issue.create_comment(body)
        crashpoint(f"{CRASH_AFTER_GITHUB}:{row.kind}")
        return Outcome("applied", url=comment.html_url)

    def _comment_body(self, row: FollowupRecord) -> str:
        request = row.request
        user = str(request.get("user") or "unknown")
        name = self._display_name(user)
        text = sanitize_body(slack_to_plain(str(request["text"]), self.bot_user_id), self.secrets)
        quoted = "\n".join(f"> {line}" for line in (text or "(empty)").splitlines())
        link = None
        if self.slack is not None and request.get("ts"):
            link = permalink(self.slack, SlackThread.parse(row.thread).channel, str(request["ts"]))
        who = sanitize_body(f"{name} (Slack user {user}, trust: {request.get('trust')})")
        lines = [f"Slack follow-up from {who} in the thread this issue was filed from:", "", quoted]
        if link:
            lines += ["", f"[Message in Slack]({link})"]
        return "\n".join(lines)

    def _display_name(self, user: str) -> str:
        if self.slack is None:
            return user
        try:
            info = self.slack.users_info(user=user).get("user") or {}
        except SlackApiError:
            return user
        profile = info.get("profile") or {}
        return str(profile.get("display_name") or info.get("real_name") or info.get("name") or user)


def _pr_link(pr: Mapping[str, Any]) -> str:
    label = f"#{pr.get('number')} {pr.get('title') or ''}".strip()
    url = str(pr.get("html_url") or "")
    return slack_link(url, label) if url else slack_text(label)


def _reason(exc: SlackApiError | GithubException) -> str:
    if isinstance(exc, SlackApiError):
        data = exc.response.data if exc.response is not None else None
        return f"Slack answered {data.get('error') if isinstance(data, dict) else 'an error'}"
    return f"GitHub answered HTTP {exc.status}"
