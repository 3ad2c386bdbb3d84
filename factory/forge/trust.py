"""How far a GitHub actor is trusted: author association or repo permission → trust level.

GitHub tells us who someone is to the repository in two ways: the ``author_association``
on every object they authored (OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, ...) and their
repository permission (admin, maintain, write, triage, read, none) from the
collaborator-permission API. Both map to a factory trust level through the one mapping,
``TrustPolicy.trust_of`` from harness policy; unknown roles get the policy's ``default``
(``anyone`` unless the policy says otherwise): trust is never granted by accident.

For a webhook the trusted person is the *sender* (for ``issues.labeled``: whoever applied
the label). When the sender authored the payload's object, that object's association is
the sender's; otherwise a ``TrustResolver`` (login → trust, backed by the API in the
daemon) is asked. ``label_applier`` reads an issue's event history to confirm who applied
a label — the check the poller and the dispatcher use before acting on an approval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from factory.config.harness import TrustPolicy
from factory.events import Trust

log = structlog.get_logger(__name__)

TrustResolver = Callable[[str], Trust]
"""Returns the trust of a GitHub login (the daemon backs it by the permission API)."""

# Which object in a payload of each event a sender may have authored (its association
# then is the sender's association to the repository).
_AUTHORED: dict[str, tuple[str, ...]] = {
    "issues": ("issue",),
    "issue_comment": ("comment",),
    "pull_request": ("pull_request",),
    "pull_request_review": ("review",),
    "pull_request_review_comment": ("comment",),
    "pull_request_review_thread": (),
}


def authored_association(event_name: str, payload: Mapping[str, Any]) -> str | None:
    """Return the sender's author_association if the sender authored the payload's object.

    Returns None when the sender authored nothing in the payload (e.g. labelled someone
    else's issue) — then the association says nothing about the sender.
    """
    sender = _login(payload.get("sender"))
    if sender is None:
        return None
    for key in _AUTHORED.get(event_name, ()):
        obj = payload.get(key)
        if isinstance(obj, Mapping) and _login(obj.get("user")) == sender:
            association = obj.get("author_association")
            return association if isinstance(association, str) else None
    return None


def sender_trust(
    event_name: str,
    payload: Mapping[str, Any],
    *,
    policy: TrustPolicy,
    resolver: TrustResolver | None = None,
) -> Trust:
    """Return the trust of the webhook's sender.

    Uses the association of an object the sender authored when there is one; otherwise
    asks ``resolver`` (only then: it may call the API); ``anyone`` without a resolver or a
    sender. Raises whatever the resolver raises.
    """
    association = authored_association(event_name, payload)
    if association is not None:
        return policy.trust_of(association)
    sender = _login(payload.get("sender"))
    if sender is None or resolver is None:
        return "anyone"
    trust = resolver(sender)
    log.debug("trust_resolved", login=sender, trust=trust)
    return trust


MEMBERSHIP_EVENTS = frozenset({"member", "membership", "organization", "team"})
"""Webhook events after which cached permission answers may be wrong (someone's access
changed): the daemon drops them all."""

PERMISSION_TTL_S = 300.0
"""How long a permission answer is believed: a revoked collaborator loses trust within it."""


class PermissionTrust:
    """The daemon's resolver: asks GitHub for a login's permission on a PyGithub ``repo``.

    Calls ``GET /repos/{o}/{r}/collaborators/{login}/permission`` and keeps the answer for
    ``ttl_s`` seconds, so a revoked permission stops counting within that time; ``forget``
    drops every answer at once (on a membership event). Raises what PyGithub raises.
    """

    def __init__(
        self,
        repo: Any,
        policy: TrustPolicy,
        *,
        ttl_s: float = PERMISSION_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s < 0:
            raise ValueError(f"permission ttl must not be negative, got {ttl_s}")
        self.repo, self.policy, self.ttl_s, self.clock = repo, policy, ttl_s, clock
        self._cache: dict[str, tuple[float, Trust]] = {}
        self._lock = threading.Lock()

    def __call__(self, login: str) -> Trust:
        """Return ``login``'s trust from its repository permission (cached ``ttl_s``)."""
        now = self.clock()
        with self._lock:
            hit = self._cache.get(login)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        trust = self.policy.trust_of(str(self.repo.get_collaborator_permission(login)))
        with self._lock:
            self._cache[login] = (now, trust)
        return trust

    def forget(self) -> None:
        """Drop every cached answer: the next question for each login asks GitHub again."""
        with self._lock:
            dropped = len(self._cache)
            self._cache.clear()
        log.info("permission_cache_dropped", entries=dropped)


def label_applier(repo: Any, issue_number: int, label: str) -> str | None:
    """Return the login that most recently applied ``label`` to the issue (or PR).

    ``repo`` is a PyGithub ``Repository``; reads ``GET /repos/o/r/issues/N/events`` (all
    pages). Returns None when the label was never applied or the actor is unknown (a
    deleted account). Raises what PyGithub raises (e.g. UnknownObjectException for a
    missing issue).
    """
    applier: str | None = None
    found = False
    for event in repo.get_issue(issue_number).get_events():
        if event.event != "labeled":
            continue
        # Attributes, not raw_data: raw_data would fetch every event again.
        if event.label is not None and event.label.name == label:
            found = True
            applier = event.actor.login if event.actor is not None else None
    if not found:
        log.debug("label_never_applied", issue=issue_number, label=label)
    return applier


def _login(user: object) -> str | None:
    """Return ``user["login"]`` when ``user`` is a GitHub user object, else None."""
    if isinstance(user, Mapping):
        login = user.get("login")
        return login if isinstance(login, str) else None
    return None
