"""How far a GitHub actor is trusted: author association or repo permission → trust level.

GitHub tells us who someone is to the repository in two ways: the ``author_association``
on every object they authored (OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, ...) and their
repository permission (admin, maintain, write, triage, read, none) from the
collaborator-permission API. Both map to a factory trust level through one role → trust
table, which comes from harness policy; ``DEFAULT_TRUST_TABLE`` is used when the policy
gives none. Unknown roles map to ``anyone``: trust is never granted by accident.

For a webhook the trusted person is the *sender* (for ``issues.labeled``: whoever applied
the label). When the sender authored the payload's object, that object's association is
the sender's; otherwise a ``TrustResolver`` (login → trust, backed by the API in the
daemon) is asked. ``label_applier`` reads an issue's event history to confirm who applied
a label — the check the poller and the dispatcher use before acting on an approval.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import structlog

from factory.events import TRUST_ORDER, Trust

log = structlog.get_logger(__name__)

TrustResolver = Callable[[str], Trust]
"""Returns the trust of a GitHub login (the daemon backs it by the permission API)."""

DEFAULT_TRUST_TABLE: Mapping[str, Trust] = {
    # author_association values
    "OWNER": "maintainers",
    "MEMBER": "collaborators",
    "COLLABORATOR": "collaborators",
    "CONTRIBUTOR": "anyone",
    "FIRST_TIME_CONTRIBUTOR": "anyone",
    "FIRST_TIMER": "anyone",
    "NONE": "anyone",
    "MANNEQUIN": "anyone",
    # repository permission values
    "admin": "maintainers",
    "maintain": "maintainers",
    "write": "collaborators",
    "triage": "collaborators",
    "read": "anyone",
    "none": "anyone",
}
"""Role → trust used when harness policy gives no table. Associations are UPPER CASE,
permissions lower case, as GitHub spells them."""

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


def role_trust(role: str | None, table: Mapping[str, str] = DEFAULT_TRUST_TABLE) -> Trust:
    """Return the trust level for an association or permission; ``anyone`` if unknown.

    Raises ValueError when the table maps the role to something that is not a trust level.
    """
    if role is None:
        return "anyone"
    value = table.get(role, "anyone")
    if value not in TRUST_ORDER or value == "data":
        raise ValueError(f"trust table maps {role!r} to {value!r}, not a GitHub trust level")
    return cast(Trust, value)


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
    table: Mapping[str, str] = DEFAULT_TRUST_TABLE,
    resolver: TrustResolver | None = None,
) -> Trust:
    """Return the trust of the webhook's sender.

    Uses the association of an object the sender authored when there is one; otherwise
    asks ``resolver`` (only then: it may call the API); ``anyone`` without a resolver or a
    sender. Raises whatever the resolver raises.
    """
    association = authored_association(event_name, payload)
    if association is not None:
        return role_trust(association, table)
    sender = _login(payload.get("sender"))
    if sender is None or resolver is None:
        return "anyone"
    trust = resolver(sender)
    log.debug("trust_resolved", login=sender, trust=trust)
    return trust


def permission_resolver(
    permissions: Mapping[str, str], table: Mapping[str, str] = DEFAULT_TRUST_TABLE
) -> TrustResolver:
    """Return a resolver that looks logins up in a login → permission mapping.

    Logins not in the mapping have permission ``none``. Useful in tests and for a static
    allowlist; the daemon backs its resolver by the collaborator-permission API.
    """

    def resolve(login: str) -> Trust:
        return role_trust(permissions.get(login, "none"), table)

    return resolve


def repo_permission_resolver(
    repo: Any, table: Mapping[str, str] = DEFAULT_TRUST_TABLE
) -> TrustResolver:
    """Return a resolver that asks GitHub for a login's permission on a PyGithub ``repo``.

    Calls ``GET /repos/{o}/{r}/collaborators/{login}/permission`` once per login per
    resolver (answers are cached). Raises what PyGithub raises for a failed call.
    """
    cache: dict[str, Trust] = {}

    def resolve(login: str) -> Trust:
        if login not in cache:
            cache[login] = role_trust(str(repo.get_collaborator_permission(login)), table)
        return cache[login]

    return resolve


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
