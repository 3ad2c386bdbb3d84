"""The ``slack:`` section of ``harness/policy.yaml``: who in Slack is trusted, and where.

Slack users are named by id, never by display name (anyone can change a display name).
``maintainers`` lists user ids (``U…``, or ``W…`` on Enterprise Grid); ``collaborators``
lists user ids or user groups (``S…``, membership asked of Slack's
``usergroups.users.list``). A user in neither is whoever the trust mapping's ``default`` is
(``anyone`` in the shipped policy). ``channels`` lists the channels (``C…``, or ``G…`` for
an old private channel) where a mention is taken; a mention anywhere else is ignored with
a logged reason. Direct messages to the bot are taken when ``direct_messages`` is true.

The levels a Slack user is granted here are turned into a trust level by the one trust
mapping, ``TrustPolicy.trust_of(granted=...)``: the highest level wins, never below the
mapping's ``default``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from factory.events import Trust

_USER = re.compile(r"[UW][A-Z0-9]{2,}")
_USERGROUP = re.compile(r"S[A-Z0-9]{2,}")
_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,}")


def _user_id(value: str) -> str:
    if not _USER.fullmatch(value):
        raise ValueError(f"{value!r} is not a Slack user id (U… or W…, upper case)")
    return value


def _user_or_group_id(value: str) -> str:
    if not (_USER.fullmatch(value) or _USERGROUP.fullmatch(value)):
        raise ValueError(
            f"{value!r} is not a Slack user id (U… or W…) or user group id (S…), upper case"
        )
    return value


def _channel_id(value: str) -> str:
    if not _CHANNEL.fullmatch(value):
        raise ValueError(f"{value!r} is not a Slack channel id (C… or G…, upper case)")
    return value


SlackUserId = Annotated[str, AfterValidator(_user_id)]
SlackUserOrGroupId = Annotated[str, AfterValidator(_user_or_group_id)]
SlackChannelId = Annotated[str, AfterValidator(_channel_id)]


def is_usergroup(entry: str) -> bool:
    """Return whether a ``collaborators`` entry names a user group (``S…``)."""
    return _USERGROUP.fullmatch(entry) is not None


class SlackPolicy(BaseModel):
    """``slack:`` in policy.yaml: trusted Slack users and the channels the bot listens in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    maintainers: list[SlackUserId] = Field(default_factory=list)
    """Slack user ids trusted as ``maintainers``."""
    collaborators: list[SlackUserOrGroupId] = Field(default_factory=list)
    """Slack user ids or user group ids (``S…``) trusted as ``collaborators``."""
    channels: list[SlackChannelId] = Field(default_factory=list)
    """Channel ids where a mention of the bot is taken; empty: no channel."""
    direct_messages: bool = True
    """Whether direct messages to the bot are taken."""

    @property
    def usergroups(self) -> list[str]:
        """The user group ids among ``collaborators``, in file order."""
        return [entry for entry in self.collaborators if is_usergroup(entry)]

    def granted(self, user: str, groups: Iterable[str] = ()) -> list[Trust]:
        """Return the trust levels this section grants ``user``, a member of ``groups``.

        ``groups`` are the user groups the caller found ``user`` in (only those listed in
        ``collaborators`` count). Feed the result to ``TrustPolicy.trust_of(granted=...)``.
        """
        levels: list[Trust] = []
        if user in self.maintainers:
            levels.append("maintainers")
        if user in self.collaborators or set(groups) & set(self.usergroups):
            levels.append("collaborators")
        return levels

    def refusal(self, channel: str, channel_type: str | None) -> str | None:
        """Return why a delivery in ``channel`` is not taken, or None when it is.

        ``channel_type`` is Slack's (``channel``, ``group``, ``im``, ``mpim``); a direct
        message (``im``) is judged by ``direct_messages``, anything else by ``channels``.
        """
        if channel_type == "im":
            return None if self.direct_messages else "direct_messages_off"
        if channel in self.channels:
            return None
        return "channel_not_listed"
