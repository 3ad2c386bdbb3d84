"""Merges of factory pull requests, as events about the pull request (a Dispatcher absorber).

A ``push`` to the default branch (and a successful ``deployment_status``) is about a commit.
The post-merge verifier needs to know which pull request that commit merged, and whether
the factory opened it. ``MergeEvents.absorb`` asks GitHub (``GET /commits/{sha}/pulls``)
for the merged pull request whose merge commit is the pushed (or deployed) head; when the
factory's login opened it, it stores a second event — same kind, same actor and trust —
whose subject is that pull request and whose payload carries ``_factory.merged_pull``
(number, author, merger, merge sha, ``factory: true``; a deployment's ``environment_url``
as ``deploy_url``). A trigger with ``merges_factory_pr: true`` fires only on such events.

The original event is not absorbed: it is dispatched as before. The derived event's dedup
key names the pull request, the merge sha and the event kind, so a re-dispatch after a
crash (or the same push delivered twice) stores it once. A failed lookup (GitHub or the
network says no, after PyGithub's retries) is logged and derives nothing: one missed
verification is better than an event that blocks every dispatch after it.
"""

from __future__ import annotations

from typing import Any

import requests
import structlog
from github.GithubException import GithubException
from github.PullRequest import PullRequest
from github.Repository import Repository

from factory.events import Event, Subject
from factory.store import RunStore
from factory.store.records import EventRecord

log = structlog.get_logger(__name__)

MERGED_PULL = "merged_pull"
"""Key under ``payload["_factory"]`` of a derived merge event."""


def merged_pull(event: Event) -> dict[str, Any] | None:
    """Return the ``_factory.merged_pull`` a derived merge event carries, or None."""
    meta = event.payload.get("_factory")
    found = meta.get(MERGED_PULL) if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else None


def merges_factory_pr(event: Event) -> bool:
    """True when ``event`` is a derived merge event of a pull request the factory opened."""
    found = merged_pull(event)
    return found is not None and found.get("factory") is True


def _head(event: Event, default_branch: str) -> tuple[str, str | None] | None:
    """Return (merged sha, deploy URL) of a push to ``default_branch`` or a successful
    deployment, or None for any other event."""
    payload = event.payload
    if event.kind == "push":
        after = payload.get("after")
        if payload.get("ref") != f"refs/heads/{default_branch}" or not isinstance(after, str):
            return None
        return (after, None) if after.strip("0") and not payload.get("deleted") else None
    if event.kind.startswith("deployment_status"):
        status = payload.get("deployment_status")
        deployment = payload.get("deployment")
        if not isinstance(status, dict) or not isinstance(deployment, dict):
            return None
        sha = deployment.get("sha")
        if status.get("state") != "success" or not isinstance(sha, str):
            return None
        url = status.get("environment_url") or status.get("target_url")
        return sha, url if isinstance(url, str) and url else None
    return None


class MergeEvents:
    """Turns a merge of a factory pull request into an event about that pull request."""

    def __init__(self, store: RunStore, repo: Repository, bot_login: str | None) -> None:
        self.store = store
        self.repo = repo
        self.bot_login = (bot_login or "").lower()

    def absorb(self, record: EventRecord) -> bool:
        """Store the derived merge event of ``record`` when it merges a factory PR; never
        absorbs (returns False: the original event is dispatched too)."""
        event = record.event
        if event.source != "github" or merged_pull(event) is not None or not self.bot_login:
            return False
        head = _head(event, self.repo.default_branch)
        if head is None:
            return False
        sha, deploy_url = head
        try:
            pull = self._merged_pull(sha)
        except (GithubException, requests.RequestException) as exc:
            log.warning("merge_lookup_failed", event_id=record.id, sha=sha, error=str(exc)[:200])
            return False
        if pull is None:
            return False
        derived = self._derived(event, pull, sha, deploy_url)
        event_id, created = self.store.add_event(derived)
        log.info(
            "merge_event_stored" if created else "merge_event_known",
            event_id=event_id,
            number=pull.number,
            sha=sha,
            kind=event.kind,
        )
        return False

    def _merged_pull(self, sha: str) -> PullRequest | None:
        for pull in self.repo.get_commit(sha).get_pulls():
            if pull.merged and pull.merge_commit_sha == sha:
                return pull if (pull.user.login or "").lower() == self.bot_login else None
        return None

    def _derived(self, event: Event, pull: PullRequest, sha: str, deploy_url: str | None) -> Event:
        merger = pull.merged_by.login if pull.merged_by is not None else None
        meta = dict(event.payload.get("_factory") or {})
        meta[MERGED_PULL] = {
            "number": pull.number,
            "author": pull.user.login,
            "merged_by": merger,
            "merge_sha": sha,
            "factory": True,
            "deploy_url": deploy_url,
        }
        subject = Subject(
            kind="pull_request", number=pull.number, sha=sha, title=pull.title, url=pull.html_url
        )
        return event.model_copy(
            update={
                "dedup_key": f"github:merged:{pull.number}:{sha}:{event.kind}",
                "subject": subject,
                "payload": {**event.payload, "_factory": meta},
            }
        )
