"""Claims on subjects: one run at a time works on an issue or PR, across processes and hosts.

Design. A claim is the git ref ``refs/factory/claims/<subject key, ':' -> '-'>`` in the
target repository, so GitHub itself is the lock server:

- **Take.** Create a commit (``POST /git/commits``; tree = the default branch's tree,
  no parents) whose message is JSON ``{"holder", "lease_expires_at", "renewed"}``, then
  create the ref with ``POST /git/refs``. Ref creation is atomic: of two racers exactly
  one gets 201, the other 422 "Reference already exists".
- **Refused.** The loser reads the ref's commit. A live lease held by someone else
  means ``claim()`` returns None.
- **Take over.** An expired lease (its holder stopped heartbeating), or one held by the
  same holder (a restarted daemon re-taking its run's claim), is taken over with a new
  commit whose *parent is the expired commit*, moved with ``PATCH force=false``. That is
  a compare-and-swap: GitHub accepts only a fast forward, so of two racers taking over the
  same expired commit exactly one succeeds; the other gets 422 and is refused.
- **Renew.** ``Claim.renew()`` makes a child of our latest commit and fast-forwards the
  ref to it. If anyone took the claim over meanwhile, our child is not a descendant of
  the ref's commit: 422 -> ``ClaimLost``. ``Heartbeat`` renews every lease/3 seconds in a
  thread and reports ClaimLost through a flag and a callback so the runner can cancel.
- **Release.** Delete the ref if it still points at our latest commit. GitHub's ref
  delete has no compare-and-swap, so a takeover landing between our read and our delete
  could be deleted; the taker then gets ClaimLost at its next renewal (lease/3 later).
  This needs our own lease to have expired first, which a heartbeating holder avoids.

Lease times come from the claimer's clock (injectable): hosts must keep their clocks
in sync (NTP) to well within a lease. A claim commit whose message does not parse is
treated as expired, so junk cannot block a subject forever.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Literal

import requests
import structlog
from github import GithubException
from github.GitCommit import GitCommit
from github.GitRef import GitRef
from github.GitTree import GitTree
from github.Repository import Repository

from factory.errors import ClaimLost, GitHubRateLimited
from factory.events import as_utc, utcnow

log = structlog.get_logger(__name__)

CLAIM_REFS = "refs/factory/claims/"
Clock = Callable[[], datetime]


def claim_ref(subject_key: str) -> str:
    """Return the full ref name of the claim on ``subject_key`` ("issue:12" -> ``…/issue-12``).

    Raises ValueError for an empty key or one with characters git refs cannot hold.
    """
    name = subject_key.replace(":", "-")
    if not name or any(c in name for c in " ~^?*[\\") or ".." in name or "/" in name:
        raise ValueError(f"subject key {subject_key!r} cannot name a claim ref")
    return CLAIM_REFS + name


def make_holder(instance_id: str, run_id: str) -> str:
    """Return the holder id written into claims: ``<daemon instance>/<run id>``."""
    return f"{instance_id}/{run_id}"


@dataclass(frozen=True)
class Lease:
    """What a claim commit says: who holds the subject, until when, how often renewed."""

    holder: str
    expires_at: datetime
    renewed: int = 0

    def message(self) -> str:
        """Return the claim commit message (JSON)."""
        return json.dumps(
            {
                "holder": self.holder,
                "lease_expires_at": as_utc(self.expires_at).isoformat(),
                "renewed": self.renewed,
            },
            sort_keys=True,
        )

    @classmethod
    def parse(cls, message: str) -> Lease | None:
        """Return the lease a claim commit message holds, or None when it does not parse."""
        try:
            data: Any = json.loads(message)
            return cls(
                holder=str(data["holder"]),
                expires_at=as_utc(datetime.fromisoformat(str(data["lease_expires_at"]))),
                renewed=int(data.get("renewed", 0)),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def live(self, now: datetime) -> bool:
        """True while the lease has not expired at ``now``."""
        return as_utc(now) < self.expires_at


def _status(exc: GithubException) -> int:
    return int(exc.status)


class Claims:
    """Takes claims on subjects of one repository (see the module docstring for the design)."""

    def __init__(self, repo: Repository, *, clock: Clock = utcnow) -> None:
        """Claim in ``repo``; lease times come from ``clock`` (aware UTC datetimes)."""
        self.repo = repo
        self.clock = clock
        self._tree: GitTree | None = None
        self._tree_lock = threading.Lock()

    def tree(self) -> GitTree:
        """Return the tree claim commits use (the default branch's head tree), fetched once."""
        with self._tree_lock:
            if self._tree is None:
                head = self.repo.get_git_ref(f"heads/{self.repo.default_branch}").object.sha
                self._tree = self.repo.get_git_commit(head).tree
            return self._tree

    def commit(self, lease: Lease, parents: list[GitCommit]) -> GitCommit:
        """Create (not point any ref at) a claim commit holding ``lease`` on ``parents``."""
        return self.repo.create_git_commit(lease.message(), self.tree(), parents)

    def current(self, subject_key: str) -> tuple[GitRef, GitCommit, Lease | None] | None:
        """Return the claim ref, its commit and its lease, or None when unclaimed."""
        try:
            ref = self.repo.get_git_ref(claim_ref(subject_key).removeprefix("refs/"))
        except GithubException as exc:
            if _status(exc) == 404:
                return None
            raise
        commit = self.repo.get_git_commit(ref.object.sha)
        return ref, commit, Lease.parse(commit.message)

    def claim(self, subject_key: str, holder: str, lease_s: float) -> Claim | None:
        """Claim ``subject_key`` for ``holder`` for ``lease_s`` seconds.

        Returns the Claim, or None when someone else holds a live lease (or won the race
        to take over an expired one). Raises ValueError for a bad key or lease, and
        PyGithub's GithubException for GitHub errors other than losing the race.
        """
        if lease_s <= 0:
            raise ValueError(f"lease for {subject_key!r} must be > 0 seconds, got {lease_s}")
        ref_name = claim_ref(subject_key)
        for _attempt in range(3):
            lease = Lease(holder, self.clock() + timedelta(seconds=lease_s))
            fresh = self.commit(lease, [])
            try:
                ref = self.repo.create_git_ref(ref_name, fresh.sha)
            except GithubException as exc:
                if _status(exc) != 422:
                    raise
            else:
                log.info("claim_taken", subject=subject_key, holder=holder)
                return Claim(self, subject_key, holder, lease_s, ref, fresh, lease)
            found = self.current(subject_key)
            if found is None:
                continue  # released between our create and our read: try again
            taken = self._take_over(subject_key, holder, lease_s, found)
            if taken is not False:
                return taken
        return None

    def _take_over(
        self,
        subject_key: str,
        holder: str,
        lease_s: float,
        found: tuple[GitRef, GitCommit, Lease | None],
    ) -> Claim | Literal[False] | None:
        """Fast-forward onto an expired (or our own) claim; False when the ref vanished."""
        ref, old_commit, old = found
        now = self.clock()
        if old is not None and old.live(now) and old.holder != holder:
            log.debug("claim_refused", subject=subject_key, holder=old.holder)
            return None
        lease = Lease(holder, now + timedelta(seconds=lease_s))
        commit = self.commit(lease, [old_commit])
        try:
            ref.edit(commit.sha, force=False)
        except GithubException as exc:
            if _status(exc) not in (404, 422):
                raise
            if self.current(subject_key) is None:
                return False
            log.info("claim_takeover_lost", subject=subject_key, holder=holder)
            return None
        log.info(
            "claim_taken_over",
            subject=subject_key,
            holder=holder,
            previous=old.holder if old else None,
        )
        return Claim(self, subject_key, holder, lease_s, ref, commit, lease)


class Claim:
    """A claim we hold: renew it before its lease ends, release it when done."""

    def __init__(
        self,
        claims: Claims,
        subject_key: str,
        holder: str,
        lease_s: float,
        ref: GitRef,
        commit: GitCommit,
        lease: Lease,
    ) -> None:
        """Hold ``ref`` at ``commit`` (made by ``claims.claim``; not for direct use)."""
        self.claims = claims
        self.subject_key = subject_key
        self.holder = holder
        self.lease_s = lease_s
        self.lease = lease
        self._ref = ref
        self._commit = commit
        self._lock = threading.Lock()
        self._released = False

    @property
    def sha(self) -> str:
        """Return our latest claim commit's sha."""
        return self._commit.sha

    def renew(self) -> Lease:
        """Extend the lease by ``lease_s`` from now; return the new lease.

        Raises ClaimLost when the claim was taken over, deleted or released; PyGithub's
        GithubException for other GitHub errors (the heartbeat retries those).
        """
        with self._lock:
            if self._released:
                raise ClaimLost(f"claim on {self.subject_key} was released by {self.holder}")
            now = self.claims.clock()
            lease = Lease(
                self.holder, now + timedelta(seconds=self.lease_s), self.lease.renewed + 1
            )
            commit = self.claims.commit(lease, [self._commit])
            try:
                self._ref.edit(commit.sha, force=False)
            except GithubException as exc:
                if _status(exc) not in (404, 422):
                    raise
                log.warning("claim_lost", subject=self.subject_key, holder=self.holder)
                raise ClaimLost(
                    f"claim on {self.subject_key} held by {self.holder} was lost "
                    f"(taken over or deleted)"
                ) from exc
            self._commit, self.lease = commit, lease
            log.debug("claim_renewed", subject=self.subject_key, renewed=lease.renewed)
            return lease

    def release(self) -> bool:
        """Delete the claim ref if it still points at our latest commit.

        Returns True when deleted, False when it was no longer ours (or already gone).
        Raises PyGithub's GithubException on other GitHub errors.
        """
        with self._lock:
            if self._released:
                return False
            self._released = True
            found = self.claims.current(self.subject_key)
            if found is None or found[0].object.sha != self._commit.sha:
                log.warning("claim_release_not_ours", subject=self.subject_key)
                return False
            try:
                found[0].delete()
            except GithubException as exc:
                if _status(exc) not in (404, 422):
                    raise
                return False
            log.info("claim_released", subject=self.subject_key, holder=self.holder)
            return True


class Heartbeat:
    """Renews a claim every ``interval_s`` (lease/3) in a thread until stopped or lost.

    On ClaimLost it sets ``lost``, keeps the error in ``error`` and calls ``on_lost``
    (from the heartbeat thread), so the runner can cancel the session. Other renewal
    failures (network, 5xx after retries) are logged and retried at the next beat.
    """

    def __init__(
        self,
        claim: Claim,
        *,
        interval_s: float | None = None,
        on_lost: Callable[[ClaimLost], None] | None = None,
    ) -> None:
        """Beat for ``claim``; raises ValueError for a non-positive interval."""
        self.claim = claim
        self.interval_s = claim.lease_s / 3 if interval_s is None else interval_s
        if self.interval_s <= 0:
            raise ValueError(f"heartbeat interval must be > 0, got {self.interval_s}")
        self.on_lost = on_lost
        self.lost = threading.Event()
        self.error: ClaimLost | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"heartbeat-{claim.subject_key}", daemon=True
        )

    def start(self) -> Heartbeat:
        """Start beating; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and wait for the thread to end."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.claim.renew()
            except ClaimLost as exc:
                self.error = exc
                self.lost.set()
                if self.on_lost is not None:
                    self.on_lost(exc)
                return
            except (GithubException, GitHubRateLimited, requests.RequestException) as exc:
                log.warning(
                    "claim_renew_failed", subject=self.claim.subject_key, error=type(exc).__name__
                )
