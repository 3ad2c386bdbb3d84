"""Deliveries about another repository are kept as ignored: never dispatched, never shadowing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.routing import Route

from factory.sources.github_webhooks import github_webhook_route
from factory.store import RunStore

WEBHOOKS = Path(__file__).resolve().parents[1] / "data" / "github-webhooks"
SECRET = "It's a Secret to Everybody"
OURS = "Codertocat/Hello-World"

Served = Callable[[Route], httpx.Client]
Headers = Callable[..., dict[str, str]]


def _payload(name: str, repository: str | None = OURS) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((WEBHOOKS / name).read_text())
    if repository is None:
        payload.pop("repository")
    else:
        payload["repository"] = {**payload["repository"], "full_name": repository}
    return payload


def _deliver(client: httpx.Client, headers_for: Headers, event: str, payload: Any) -> Any:
    body = json.dumps(payload).encode()
    return client.post("/webhooks/github", content=body, headers=headers_for(event, body)).json()


def _ignored(store: RunStore) -> list[str]:
    """Return the reasons of the ignored events, read from the SQLite file itself."""
    with sqlite3.connect(store.path) as conn:
        rows = conn.execute("SELECT ignored FROM events WHERE ignored IS NOT NULL ORDER BY id")
        return [r[0] for r in rows]


@pytest.fixture
def client(store: RunStore, served: Served) -> httpx.Client:
    """The webhook route of a factory serving OURS."""
    return served(github_webhook_route(store, SecretStr(SECRET), repository=OURS))


@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("issues.labeled.9.json", "issues"),
        ("issue_comment.created.0.json", "issue_comment"),
        ("pull_request.opened.0.json", "pull_request"),
        ("push.0.json", "push"),
    ],
    ids=["issues", "issue_comment", "pull_request", "push"],
)
def test_delivery_for_another_repository_is_stored_ignored_and_not_dispatched(
    store: RunStore, client: httpx.Client, headers_for: Headers, name: str, event: str
) -> None:
    """A delivery naming another repository is kept with a reason and never reaches dispatch."""
    reply = _deliver(client, headers_for, event, _payload(name, "evil/other"))
    record = store.get_event(reply["event_id"])
    assert (store.undispatched_events(), "evil/other" in (record.ignored or "")) == ([], True)


def test_repository_names_compare_case_insensitively(
    store: RunStore, client: httpx.Client, headers_for: Headers
) -> None:
    """GitHub names are case-insensitive: ``codertocat/hello-world`` is this repository."""
    reply = _deliver(client, headers_for, "issues", _payload("issues.labeled.9.json", OURS.lower()))
    assert [r.id for r in store.undispatched_events()] == [reply["event_id"]]


def test_issue_delivery_without_a_repository_is_ignored(
    store: RunStore, client: httpx.Client, headers_for: Headers
) -> None:
    """An issue that names no repository cannot be placed, so it is not dispatched."""
    _deliver(client, headers_for, "issues", _payload("issues.labeled.9.json", None))
    assert (store.undispatched_events(), len(_ignored(store))) == ([], 1)


def test_foreign_change_does_not_shadow_the_same_change_of_ours(
    store: RunStore, client: httpx.Client, headers_for: Headers
) -> None:
    """The same-numbered label change in another repository leaves ours to be stored and run."""
    _deliver(client, headers_for, "issues", _payload("issues.labeled.9.json", "evil/other"))
    ours = _deliver(client, headers_for, "issues", _payload("issues.labeled.9.json"))
    assert (ours["duplicate"], [r.id for r in store.undispatched_events()]) == (
        False,
        [ours["event_id"]],
    )


def test_membership_delivery_drops_cached_permissions(
    store: RunStore, served: Served, headers_for: Headers
) -> None:
    """A ``member`` delivery calls the route's ``on_membership`` before it is stored."""
    dropped: list[int] = []
    client = served(
        github_webhook_route(
            store, SecretStr(SECRET), repository=OURS, on_membership=lambda: dropped.append(1)
        )
    )
    payload = {
        "action": "removed",
        "member": {"login": "mallory", "id": 7},
        "repository": {"full_name": OURS, "id": 1},
        "sender": {"login": "alice", "id": 1},
    }
    _deliver(client, headers_for, "member", payload)
    _deliver(client, headers_for, "issues", _payload("issues.labeled.9.json"))
    assert dropped == [1]
