"""The ``slack:`` section of policy.yaml: strict ids, trust through the one mapping, channels."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from factory.config.harness import TrustPolicy, load_harness, read_harness
from factory.config.slack_policy import SlackPolicy

ROOT = Path(__file__).resolve().parents[2]


def harness_with_slack(tmp_path: Path, section: str) -> Path:
    """Copy the shipped harness into ``tmp_path`` with its ``slack:`` section replaced."""
    shutil.copytree(ROOT / "harness", tmp_path / "h")
    policy = tmp_path / "h" / "policy.yaml"
    text = policy.read_text()
    start = text.index("\nslack:\n") + 1
    end = text.index("\n\n", start) + 1
    policy.write_text(text[:start] + section + text[end:])
    return tmp_path / "h"


def issues_of(tmp_path: Path, section: str) -> list[tuple[int, int, str]]:
    """Return (line, col, message) of every issue a policy with ``section`` has."""
    harness_dir = harness_with_slack(tmp_path, section)
    _, issues = read_harness(harness_dir)
    text = (harness_dir / "policy.yaml").read_text()
    first = text[: text.index("\nslack:\n")].count("\n") + 2
    return [(i.line - first + 1, i.col, i.message) for i in issues]


def test_shipped_policy_has_an_empty_slack_section() -> None:
    """The shipped policy trusts nobody in Slack and listens in no channel."""
    assert load_harness(ROOT / "harness").policy.slack == SlackPolicy()


def test_slack_section_is_read_into_the_policy(tmp_path: Path) -> None:
    """Users, user groups and channels from policy.yaml reach the policy model."""
    section = "slack:\n  maintainers: [U01]\n  collaborators: [U02, S03]\n  channels: [C04]\n"
    policy = load_harness(harness_with_slack(tmp_path, section)).policy
    assert policy.slack == SlackPolicy(
        maintainers=["U01"], collaborators=["U02", "S03"], channels=["C04"]
    )


def test_unknown_slack_key_is_an_issue_at_the_key(tmp_path: Path) -> None:
    """A misspelt key in slack: is reported at itself, relative line 2 column 3."""
    section = "slack:\n  maintainer: [U01]\n"
    assert issues_of(tmp_path, section) == [
        (
            2,
            3,
            "unknown key 'maintainer' (known: channels, collaborators, direct_messages,"
            " maintainers)",
        )
    ]


@pytest.mark.parametrize(
    ("section", "where", "message"),
    [
        (
            "slack:\n  maintainers: [alice]\n",
            (2, 17),
            "slack.maintainers.0: 'alice' is not a Slack user id (U… or W…, upper case)",
        ),
        (
            "slack:\n  maintainers: [S0GROUP]\n",
            (2, 17),
            "slack.maintainers.0: 'S0GROUP' is not a Slack user id (U… or W…, upper case)",
        ),
        (
            "slack:\n  collaborators: [U01, C0CHAN]\n",
            (2, 24),
            "slack.collaborators.1: 'C0CHAN' is not a Slack user id (U… or W…) or user group"
            " id (S…), upper case",
        ),
        (
            "slack:\n  channels: ['#bugs']\n",
            (2, 14),
            "slack.channels.0: '#bugs' is not a Slack channel id (C… or G…, upper case)",
        ),
    ],
    ids=["name-not-id", "group-as-maintainer", "channel-as-collaborator", "channel-name"],
)
def test_malformed_slack_id_is_an_issue_at_the_value(
    tmp_path: Path, section: str, where: tuple[int, int], message: str
) -> None:
    """A value that is not the right kind of Slack id is reported at that value."""
    assert issues_of(tmp_path, section) == [(*where, message)]


@pytest.mark.parametrize(
    ("user", "groups", "trust"),
    [
        ("U0MAINT", [], "maintainers"),
        ("U0COLL", [], "collaborators"),
        ("U0OTHER", ["S0TEAM"], "collaborators"),
        ("U0OTHER", ["S0UNLISTED"], "anyone"),
        ("U0OTHER", [], "anyone"),
    ],
    ids=["maintainer", "collaborator", "in-listed-group", "in-unlisted-group", "stranger"],
)
def test_slack_user_trust_goes_through_the_trust_mapping(
    user: str, groups: list[str], trust: str
) -> None:
    """A Slack user's trust is the highest the slack section grants, else the default."""
    slack = SlackPolicy(maintainers=["U0MAINT"], collaborators=["U0COLL", "S0TEAM"])
    assert TrustPolicy().trust_of(granted=slack.granted(user, groups)) == trust


def test_maintainer_also_in_a_listed_group_is_a_maintainer() -> None:
    """The highest level wins when the section grants a user two."""
    slack = SlackPolicy(maintainers=["U0MAINT"], collaborators=["S0TEAM"])
    assert TrustPolicy().trust_of(granted=slack.granted("U0MAINT", ["S0TEAM"])) == "maintainers"


def test_trust_default_applies_to_unlisted_slack_users() -> None:
    """The mapping's default is the floor for Slack users too (one mapping, one default)."""
    policy = TrustPolicy(default="collaborators")
    assert policy.trust_of(granted=SlackPolicy().granted("U0OTHER")) == "collaborators"


@pytest.mark.parametrize(
    ("channel", "channel_type", "refusal"),
    [
        ("C0BUGS", None, None),
        ("C0BUGS", "channel", None),
        ("C0RANDOM", "channel", "channel_not_listed"),
        ("D0DM", "im", None),
    ],
    ids=["listed-mention", "listed-channel", "unlisted", "direct-message"],
)
def test_refusal_names_why_a_channel_is_not_taken(
    channel: str, channel_type: str | None, refusal: str | None
) -> None:
    """Only listed channels and (by default) direct messages are taken."""
    assert SlackPolicy(channels=["C0BUGS"]).refusal(channel, channel_type) == refusal


def test_direct_messages_can_be_turned_off() -> None:
    """direct_messages: false refuses a direct message with its own reason."""
    policy = SlackPolicy(direct_messages=False)
    assert policy.refusal("D0DM", "im") == "direct_messages_off"


def test_usergroups_are_the_s_ids_among_collaborators() -> None:
    """Only S… entries are user groups to ask Slack about."""
    assert SlackPolicy(collaborators=["U01", "S02", "W03", "S04"]).usergroups == ["S02", "S04"]
