"""The base merged into factory pull requests by the daemon; conflicts to the shepherd.

When the base branch moves (a ``push`` to it) every open factory pull request on that base
whose head does not contain the new base gets the base merged into its head by the daemon,
in its own clone (``factory.forge.pr_merge_base``); so does the pull request of a schedule
sweep's tick. (Not only those GitHub calls ``mergeable: false`` / ``dirty``: GitHub computes
that lazily, ``null`` until asked again, and a head behind its base is what "update branch"
fixes anyway; the checks the merge gate reads then describe what would land.)

* clean: the merge commit (parents: head, base) is pushed and one comment says so — no
  agent session. Idempotent under kill -9: the merge commit carries the key
  ``merge_base:<pr>:<base sha>`` as its ``Factory-Output`` trailer and the comment the same
  key as its marker; a re-dispatch of the event finds the pushed commit on the head (GitHub's
  commit message) and posts the missing comment, or finds the comment and does nothing;
* conflicted: an event ``pull_request.merge_conflict`` about that pull request is stored
  (payload ``_factory.merge_conflict``: head, base, the conflicted files), which the PR
  shepherd's trigger runs on. Its run's workspace is the conflicted merge
  (``conflict_workspace``), its first message lists the conflicted files (``conflict_text``),
  and its ``push_to_pull_request`` completes the merge commit (``factory.forge.pr_merge_push``).

Only while an enabled automation has a ``pull_request.merge_conflict`` trigger (the PR
shepherd's; a sweep tick only for such an automation's own schedule). A person's pull
request (or a fork's, or a branch outside ``factory/``) is never touched,
nor one labelled for a human (needs-human: the factory stopped there). The event is never
absorbed, except a sweep tick whose pull request this handled (merged, or stored a conflict
event): its session would only repeat that.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import structlog
from github.GithubException import GithubException
from github.PullRequest import PullRequest

from factory.config.harness import Policy
from factory.config.loader import FactoryConfig
from factory.crashpoints import crashpoint
from factory.daemon.runenv import GitHubSide
from factory.events import Event, Subject
from factory.forge.markers import append_marker, has_marker
from factory.forge.pr_merge_base import merge_base_into
from factory.forge.pr_output import FACTORY_IDENTITY
from factory.forge.pr_push import ownership_refusal
from factory.forge.pr_push_git import TRAILER
from factory.store import RunStore
from factory.store.records import EventRecord
from factory.workspace import Workspace
from factory.workspace.merge_workspace import conflicted_workspace

log = structlog.get_logger(__name__)

MERGE_CONFLICT = "merge_conflict"
"""Key under ``payload["_factory"]`` of a derived conflict event; also its kind's action."""
CONFLICT_KIND = f"pull_request.{MERGE_CONFLICT}"


def merge_key(number: int, base_sha: str) -> str:
    """Return the idempotency key of the daemon's merge of ``base_sha`` into PR ``number``."""
    return f"merge_base:{number}:{base_sha}"


def merge_conflict(event: Event | None) -> dict[str, Any] | None:
    """Return the ``_factory.merge_conflict`` of a derived conflict event, or None."""
    meta = event.payload.get("_factory") if event is not None else None
    found = meta.get(MERGE_CONFLICT) if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else None


def conflict_workspace(workspace: Workspace | None, event: Event | None) -> Workspace | None:
    """Return the conflicted merge workspace a conflict event's run works in, else
    ``workspace`` as it is (also when the PR's head moved since the event)."""
    found = merge_conflict(event)
    if workspace is None or found is None or found.get("head_sha") != workspace.base_sha:
        return workspace
    return conflicted_workspace(workspace, str(found["base_sha"]))


def conflict_text(event: Event | None) -> str | None:
    """Return what a conflict event's run is told first: the conflicted files, or None."""
    found = merge_conflict(event)
    if found is None:
        return None
    files = "\n".join(f"- {path}" for path in found.get("files") or [])
    return (
        f"Merge conflict: merging {found.get('base_ref')} ({str(found.get('base_sha'))[:12]})"
        f" into this pull request's head conflicts. The workspace holds the merge with"
        f" conflict markers in these files, the only ones you may change:\n{files}\n"
        "Resolve each conflict keeping both sides' intent, then push once; the push"
        " completes the merge commit."
    )


def wanted_by(config: FactoryConfig) -> set[str]:
    """Return the enabled automations with a ``pull_request.merge_conflict`` trigger: the
    daemon merges the base into factory PRs only when one of them would take the conflicts."""
    return {
        a.name
        for a in config.automations.values()
        if a.enabled and any(t.github and t.github.event == CONFLICT_KIND for t in a.on)
    }


class Conflicts:
    """Merges the base into conflicted factory pull requests; stores conflict events."""

    def __init__(
        self,
        store: RunStore,
        github: GitHubSide,
        policy: Callable[[], Policy],
        config: Callable[[], FactoryConfig],
    ) -> None:
        self.store = store
        self.github = github
        self.policy = policy
        self.config = config
        self.bot_login = github.bot_login
        # The mirror lives in <data dir>/mirrors; the daemon's clones go beside it.
        self.data_dir = Path(github.mirror.root).parent

    def absorb(self, record: EventRecord) -> bool:
        """Handle the factory PRs ``record`` may have put in conflict; True only for a sweep
        tick whose pull request was merged or got a conflict event."""
        event = record.event
        wanted = wanted_by(self.config())
        try:
            if event.source == "github" and event.kind == "push" and wanted:
                for pull in self._pulls_on(event):
                    self._handle(pull, event)
                return False
            subject = event.subject
            swept = event.source == "schedule" and event.payload.get("automation") in wanted
            if swept and subject and subject.kind == "pull_request":
                return self._handle(self.github.repo.get_pull(subject.number or 0), event)
        except (GithubException, requests.RequestException) as exc:
            log.warning("conflict_check_failed", event_id=record.id, error=str(exc)[:200])
        return False

    def _pulls_on(self, event: Event) -> list[PullRequest]:
        ref = event.payload.get("ref")
        if (
            not isinstance(ref, str)
            or not ref.startswith("refs/heads/")
            or event.payload.get("deleted")
        ):
            return []
        base = ref.removeprefix("refs/heads/")
        repo = self.github.repo
        return [p for p in repo.get_pulls(state="open", base=base) if self._owned(p)]

    def _owned(self, pull: PullRequest) -> bool:
        return ownership_refusal(pull, self.github.repo.full_name, self.bot_login) is None

    def _handle(self, pull: PullRequest, event: Event) -> bool:
        """Merge the base into ``pull`` when it conflicts; True when it did something."""
        human = self.policy().labels.needs_human
        if not self._owned(pull) or human in {label.name for label in pull.labels}:
            return False
        repo, mirror = self.github.repo, self.github.mirror
        base_ref, number = pull.base.ref, pull.number
        mirror.fetch()
        base_sha = repo.get_branch(base_ref).commit.sha
        key = merge_key(number, base_sha)
        issue = repo.get_issue(number)
        if any(has_marker(c.body, key) for c in issue.get_comments()):
            return False
        head = repo.get_commit(pull.head.sha)
        sha = pull.head.sha if f"{TRAILER}: {key}" in head.commit.message else None
        if sha is None:
            outcome = merge_base_into(
                mirror=mirror,
                branch=pull.head.ref,
                head_sha=pull.head.sha,
                base_ref=base_ref,
                identity=FACTORY_IDENTITY,
                data_dir=self.data_dir,
                run_id=f"merge-{number}",
                auth_header=self.github.auth_header(),
                key=key,
            )
            if outcome.status == "conflicts":
                self._store_conflict(pull, event, base_sha, outcome.conflicts)
                return True
            if outcome.status != "merged" or outcome.sha is None:
                return False
            sha = outcome.sha
            crashpoint("merge_base_after_push")
        body = (
            f"The factory merged `{base_ref}` (`{base_sha[:12]}`) into this pull request: it"
            f" merged cleanly, so no agent was needed. New head: `{sha[:12]}`."
        )
        issue.create_comment(append_marker(body, f"merge-{number}", key))
        log.info("merge_base_commented", number=number, sha=sha)
        return True

    def _store_conflict(
        self, pull: PullRequest, event: Event, base_sha: str, files: tuple[str, ...]
    ) -> None:
        found = {
            "number": pull.number,
            "head_sha": pull.head.sha,
            "base_sha": base_sha,
            "base_ref": pull.base.ref,
            "files": list(files),
        }
        derived = Event(
            source="github",
            kind=CONFLICT_KIND,
            dedup_key=f"github:{MERGE_CONFLICT}:{pull.number}:{pull.head.sha}:{base_sha}",
            subject=Subject(
                kind="pull_request",
                number=pull.number,
                sha=pull.head.sha,
                title=pull.title,
                url=pull.html_url,
            ),
            actor=self.bot_login,
            trust="maintainers",
            by_factory=True,
            payload={
                "action": MERGE_CONFLICT,
                "pull_request": {"number": pull.number, "head": {"ref": pull.head.ref}},
                "_factory": {MERGE_CONFLICT: found},
            },
        )
        event_id, created = self.store.add_event(derived)
        log.info(
            "merge_conflict_stored" if created else "merge_conflict_known",
            event_id=event_id,
            number=pull.number,
            files=len(files),
        )
