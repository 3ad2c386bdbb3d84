"""How far a Slack user is trusted: the policy's ``slack:`` section, user groups asked of Slack.

``slack_trust`` is the one place a Slack user's trust is decided: the levels the
``slack:`` section grants (factory.config.slack_policy) go through the one trust mapping,
``TrustPolicy.trust_of``. User groups named in ``collaborators`` are resolved by
``UsergroupMembers`` (``usergroups.users.list``, kept ``ttl_s`` seconds like GitHub
permissions are, so a removed member loses trust within it). A failed lookup counts as
"not a member" and is not kept: the least trust is the safe answer, and the next mention
asks again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from factory.config.harness import Policy
from factory.events import Trust

log = structlog.get_logger(__name__)

MEMBERS_TTL_S = 300.0
"""How long a user group's member list is believed."""


class UsergroupMembers:
    """Members of Slack user groups, asked of ``usergroups.users.list`` and kept ``ttl_s``."""

    def __init__(
        self,
        client: WebClient,
        *,
        ttl_s: float = MEMBERS_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s < 0:
            raise ValueError(f"user group ttl must not be negative, got {ttl_s}")
        self.client, self.ttl_s, self.clock = client, ttl_s, clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def members(self, group: str) -> frozenset[str] | None:
        """Return the user ids in ``group`` (cached ``ttl_s``), or None when Slack refused.

        A refusal (ok:false, a rate limit past the client's retries, no connection) is
        logged with the group id and Slack's error code, and not cached.
        """
        now = self.clock()
        with self._lock:
            hit = self._cache.get(group)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        try:
            answer = self.client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            log.warning("usergroup_lookup_failed", usergroup=group, error=exc.response.get("error"))
            return None
        except (SlackClientError, OSError) as exc:
            log.warning("usergroup_lookup_failed", usergroup=group, error=type(exc).__name__)
            return None
        users = answer.get("users")
        found = (
            frozenset(u for u in users if isinstance(u, str)) if isinstance(users, list) else None
        )
        if found is None:
            log.warning("usergroup_lookup_failed", usergroup=group, error="no_users_in_answer")
            return None
        with self._lock:
            self._cache[group] = (now, found)
        return found

    def groups_of(self, user: str, groups: Iterable[str]) -> list[str]:
        """Return those of ``groups`` that ``user`` is found in (unanswered groups: not)."""
        return [g for g in groups if user in (self.members(g) or frozenset())]

    def forget(self) -> None:
        """Drop every kept member list: the next lookup of each group asks Slack again."""
        with self._lock:
            self._cache.clear()


def slack_trust(policy: Policy, user: str, members: UsergroupMembers | None) -> Trust:
    """Return the trust of Slack ``user`` under ``policy``.

    User groups are asked of ``members`` only when the user is not listed by id (nothing a
    group grants could raise a listed user); with ``members`` None, groups count as not
    containing anyone.
    """
    slack = policy.slack
    groups: list[str] = []
    listed = user in slack.maintainers or user in slack.collaborators
    if members is not None and not listed and slack.usergroups:
        groups = members.groups_of(user, slack.usergroups)
    return policy.trust.trust_of(granted=slack.granted(user, groups))
