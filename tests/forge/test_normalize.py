"""Payload → Event normalization, the shared dedup keys, and trust from associations."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from factory.config.harness import TrustPolicy
from factory.events import Subject
from factory.forge.normalize import change_key, dedup_key, github_time, normalize
from factory.forge.trust import authored_association, sender_trust
from tests.conftest import static_trust

WEBHOOKS = Path(__file__).resolve().parents[1] / "data" / "github-webhooks"


def load(name: str) -> dict[str, Any]:
    """Return the recorded payload ``name`` from tests/data/github-webhooks."""
    payload: dict[str, Any] = json.loads((WEBHOOKS / name).read_text())
    return payload


def test_comment_on_pull_request_is_about_the_pull_request() -> None:
    """An issue_comment whose issue carries "pull_request" has a pull_request subject."""
    payload = load("issue_comment.created.0.json")
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/o/r/pulls/1"}
    assert normalize("issue_comment", payload, "d").subject == Subject(
        kind="pull_request",
        number=payload["issue"]["number"],
        title=payload["issue"]["title"],
        url=payload["issue"]["html_url"],
    )


def test_push_deleting_a_branch_has_no_subject() -> None:
    """A push that deletes a branch (after = zeros) is about no commit."""
    payload = load("push.1.json")
    assert (payload["deleted"], normalize("push", payload, "d").subject) == (True, None)


def test_status_event_kind_is_the_event_name() -> None:
    """An event without an action gets the bare event name as its kind."""
    assert normalize("status", load("status.0.json"), "d").kind == "status"


def test_comment_delivery_is_keyed_by_delivery_id() -> None:
    """Events the poller cannot see are keyed by the delivery id."""
    event = normalize("issue_comment", load("issue_comment.created.0.json"), "abc-123")
    assert event.dedup_key == "github:delivery:abc-123"


def test_labeled_delivery_gets_the_key_the_poller_computes() -> None:
    """issues.labeled is keyed by number, label and the issue's updated_at, not the delivery."""
    payload = load("issues.labeled.9.json")
    expected = f"github:issues.labeled:1:bug:{payload['issue']['updated_at']}"
    assert dedup_key("issues", payload, "abc-123") == expected


def test_opened_key_has_no_time() -> None:
    """An issue is opened once, so its key is the number alone."""
    assert (
        change_key("issues", "opened", 7, "2020-01-01T00:00:00Z", None) == "github:issues.opened:7"
    )


def test_labeled_payload_without_label_falls_back_to_delivery_key() -> None:
    """A labeled payload missing its label is still stored once per delivery."""
    payload = load("issues.labeled.9.json")
    del payload["label"]
    assert dedup_key("issues", payload, "abc") == "github:delivery:abc"


def test_github_time_drops_fractions_and_offsets() -> None:
    """Timestamps from both paths are reduced to the same second-resolution UTC string."""
    stamps: list[str | datetime] = [
        "2019-05-15T17:20:18.5+02:00",
        datetime(2019, 5, 15, 15, 20, 18, tzinfo=UTC),
    ]
    assert {github_time(s) for s in stamps} == {"2019-05-15T15:20:18Z"}


def test_sender_in_bot_logins_is_by_factory_regardless_of_case() -> None:
    """Bot logins match case-insensitively."""
    event = normalize("issues", load("issues.opened.15.json"), "d", bot_logins=["CODERTOCAT"])
    assert event.by_factory is True


def test_delivery_id_is_kept_in_payload() -> None:
    """The stored payload names the delivery that brought it."""
    payload = normalize("push", load("push.0.json"), "d-9").payload
    assert payload["_factory"] == {"via": "webhook", "delivery_id": "d-9"}


@pytest.mark.parametrize(
    ("role", "trust"),
    [
        ("OWNER", "maintainers"),
        ("MEMBER", "maintainers"),
        ("COLLABORATOR", "collaborators"),
        ("FIRST_TIME_CONTRIBUTOR", "anyone"),
        ("admin", "maintainers"),
        ("write", "collaborators"),
        ("triage", "anyone"),
        ("read", "anyone"),
        ("SOMETHING_NEW", "anyone"),
        (None, "anyone"),
    ],
)
def test_default_policy_maps_role_to_trust(role: str | None, trust: str) -> None:
    """The policy's defaults map associations and permissions; unknown roles get ``anyone``."""
    assert TrustPolicy().trust_of(role) == trust


def test_policy_table_overrides_the_default() -> None:
    """A mapping from harness policy decides instead of the default."""
    assert TrustPolicy(permissions={"write": "maintainers"}).trust_of("write") == "maintainers"


def test_policy_default_applies_to_unknown_roles() -> None:
    """``trust.default`` is the trust of a role the policy does not list."""
    assert TrustPolicy(default="collaborators").trust_of("SOMETHING_NEW") == "collaborators"


@pytest.mark.parametrize("value", ["admins", "data"], ids=["unknown-level", "data"])
def test_policy_mapping_to_a_non_people_trust_value_raises(value: str) -> None:
    """A policy naming an unknown trust level, or 'data', for a GitHub role is refused."""
    with pytest.raises(ValueError, match=value):
        TrustPolicy(permissions={"admin": value})  # type: ignore[dict-item]


def test_association_of_an_object_someone_else_wrote_is_ignored() -> None:
    """A label applied to another person's issue says nothing about the labeler."""
    payload = load("issues.labeled.9.json")
    payload["sender"] = {"login": "stranger"}
    assert authored_association("issues", payload) is None


def test_comment_author_trust_comes_from_comment_association() -> None:
    """A commenter's trust is their comment's author_association, without any lookup."""
    payload = load("issue_comment.created.0.json")
    payload["comment"]["author_association"] = "FIRST_TIMER"
    resolver = static_trust({payload["sender"]["login"]: "admin"})
    assert (
        sender_trust("issue_comment", payload, policy=TrustPolicy(), resolver=resolver) == "anyone"
    )


def test_labeler_who_is_not_author_gets_resolver_trust() -> None:
    """Who applied a label is looked up by the resolver when they did not write the issue."""
    payload = load("issues.labeled.9.json")
    payload["sender"] = {"login": "maint"}
    resolver = static_trust({"maint": "maintain"})
    assert sender_trust("issues", payload, policy=TrustPolicy(), resolver=resolver) == "maintainers"


def test_unknown_sender_without_resolver_is_anyone() -> None:
    """Without a resolver, a sender whose trust the payload does not show gets ``anyone``."""
    payload = load("label.created.1.json")
    assert sender_trust("label", payload, policy=TrustPolicy()) == "anyone"
