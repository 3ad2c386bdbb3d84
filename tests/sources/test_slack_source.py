"""The Slack source's listeners: what becomes an Event, what is ignored and why, and trust."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import structlog.testing
from pydantic import SecretStr
from starlette.routing import Route

from factory.config.harness import Policy
from factory.logs import redactor
from factory.settings import Settings
from factory.sources.slack import SlackSource
from factory.sources.slack_http import slack_events_route
from factory.store import RunStore
from factory.testing.fake_slack import FakeSlack
from tests.sources.slack_support import all_events, policy_with, source_for

Served = Callable[[Route], httpx.Client]
JSON = dict[str, Any]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A workspace: alice (a maintainer), bob (in user group S0TEAM), carol (nobody)."""
    with FakeSlack() as fake:
        for user, name in [("U0ALICE01", "alice"), ("U0BOB0001", "bob"), ("U0CAROL01", "carol")]:
            fake.add_user(user, name)
        fake.add_channel("C0BUGS001", "bugs")
        fake.add_channel("C0RANDOM1", "random")
        fake.add_usergroup("S0TEAM001", ["U0BOB0001"])
        yield fake


POLICY = policy_with(maintainers=["U0ALICE01"], collaborators=["S0TEAM001"], channels=["C0BUGS001"])


class Deliver:
    """Sends Events API bodies to a served Slack route, signed like Slack does."""

    def __init__(self, slack: FakeSlack, client: httpx.Client, source: SlackSource) -> None:
        self.slack, self.source = slack, source
        self.url = str(client.base_url).rstrip("/") + "/slack/events"

    def __call__(self, body: JSON) -> int:
        """Deliver ``body``; return the HTTP status."""
        return self.slack.deliver_http(self.url, body).status_code


@pytest.fixture
def make_deliver(slack: FakeSlack, store: RunStore, served: Served) -> Callable[..., Deliver]:
    """Return a function that serves a source under a policy and gives its Deliver."""

    def make(policy: Policy = POLICY, on_stored: Callable[[], None] | None = None) -> Deliver:
        source = source_for(slack, store, policy)
        source.on_stored = on_stored
        client = served(slack_events_route(source, SecretStr(slack.signing_secret)))
        return Deliver(slack, client, source)

    return make


@pytest.fixture
def deliver(make_deliver: Callable[..., Deliver]) -> Deliver:
    """Deliver under POLICY."""
    return make_deliver()


def stored(store: RunStore) -> list[tuple[str, str | None]]:
    """Return (kind, ignored reason) of every stored event."""
    return [(r.event.kind, r.ignored) for r in all_events(store)]


def test_mention_in_a_listed_channel_is_an_event(
    slack: FakeSlack, deliver: Deliver, store: RunStore
) -> None:
    """A person's mention in a listed channel is stored to be dispatched."""
    deliver(slack.mention("U0CAROL01", "C0BUGS001", "it broke"))
    assert stored(store) == [("app_mention", None)]


def test_new_event_wakes_the_dispatcher(
    slack: FakeSlack, make_deliver: Callable[..., Deliver]
) -> None:
    """on_stored is called once per new event, not for its retries."""
    calls: list[int] = []
    deliver = make_deliver(on_stored=lambda: calls.append(1))
    body = slack.mention("U0CAROL01", "C0BUGS001", "it broke")
    deliver(body)
    deliver(body)
    assert calls == [1]


def test_mention_in_a_thread_names_the_parent_as_subject(
    slack: FakeSlack, deliver: Deliver, store: RunStore
) -> None:
    """A mention in a thread reply has the thread's parent ts as subject and thread_ts."""
    parent = slack.mention("U0ALICE01", "C0BUGS001", "first")["event"]["ts"]
    body = slack.mention("U0CAROL01", "C0BUGS001", "again", thread_ts=parent)
    deliver(body)
    event = all_events(store)[0].event
    assert (event.subject_key, event.payload["thread_ts"], event.payload["ts"]) == (
        f"slack:C0BUGS001/{parent}",
        parent,
        body["event"]["ts"],
    )


def test_mention_files_are_kept_as_id_name_and_mimetype(
    slack: FakeSlack, deliver: Deliver, store: RunStore
) -> None:
    """Attached files reach the payload as id, name and mimetype only."""
    file_id = slack.add_file("shot.png", b"\x89PNG....", "image/png")
    deliver(slack.mention("U0CAROL01", "C0BUGS001", "see", files=[file_id]))
    files = all_events(store)[0].event.payload["files"]
    assert files == [{"id": file_id, "name": "shot.png", "mimetype": "image/png"}]


def test_mention_in_an_unlisted_channel_is_ignored_with_its_reason(
    slack: FakeSlack, deliver: Deliver, store: RunStore
) -> None:
    """A mention outside the listed channels is stored as ignored and the reason logged."""
    body = slack.mention("U0ALICE01", "C0RANDOM1", "hello")
    with structlog.testing.capture_logs() as logs:
        deliver(body)
    ignored = [e for e in logs if e["event"] == "slack_event_ignored"]
    assert (stored(store), [(e["reason"], e["channel"], e["event_id"]) for e in ignored]) == (
        [("app_mention", "channel_not_listed")],
        [("channel_not_listed", "C0RANDOM1", body["event_id"])],
    )


def test_direct_message_is_an_event(slack: FakeSlack, deliver: Deliver, store: RunStore) -> None:
    """A direct message to the bot is stored as message.im."""
    deliver(slack.direct_message("U0CAROL01", "help"))
    assert stored(store) == [("message.im", None)]


def test_direct_messages_off_ignores_a_direct_message(
    slack: FakeSlack, make_deliver: Callable[..., Deliver], store: RunStore
) -> None:
    """With direct_messages false a DM is kept as ignored."""
    deliver = make_deliver(policy_with(direct_messages=False))
    deliver(slack.direct_message("U0CAROL01", "help"))
    assert stored(store) == [("message.im", "direct_messages_off")]


def with_event(body: JSON, **changes: Any) -> JSON:
    """Return a copy of ``body`` with ``changes`` made to its event (None removes a key)."""
    changed = copy.deepcopy(body)
    for key, value in changes.items():
        if value is None:
            changed["event"].pop(key, None)
        else:
            changed["event"][key] = value
    return changed


def test_the_bots_own_message_starts_nothing(
    slack: FakeSlack, deliver: Deliver, store: RunStore
) -> None:
    """A message by the bot user itself is dropped before any listener: nothing stored."""
    body = with_event(
        slack.direct_message("U0CAROL01", "x"), user=slack.bot_user_id, bot_id=slack.bot_id
    )
    assert (deliver(body), stored(store)) == (200, [])


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"bot_id": "B0OTHER01"}, "bot_message"),
        ({"subtype": "bot_message", "bot_id": "B0OTHER01", "user": None}, "bot_message"),
        ({"subtype": "channel_join"}, "subtype_channel_join"),
        ({"edited": {"user": "U0CAROL01", "ts": "1700000000.000200"}}, "edited_mention"),
    ],
    ids=["other-bot", "bot-message-subtype", "join", "edited"],
)
def test_mention_that_is_not_a_persons_new_message_is_ignored(
    slack: FakeSlack, deliver: Deliver, store: RunStore, changes: JSON, reason: str
) -> None:
    """Other bots' mentions, subtypes and edits of a mention start nothing (kept as ignored)."""
    deliver(with_event(slack.mention("U0CAROL01", "C0BUGS001", "x"), **changes))
    assert stored(store) == [("app_mention", reason)]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"bot_id": "B0OTHER01", "subtype": "bot_message"}, "bot_message"),
        ({"subtype": "message_changed"}, "subtype_message_changed"),
        ({"subtype": "message_deleted", "user": None}, "subtype_message_deleted"),
    ],
    ids=["other-bot", "changed", "deleted"],
)
def test_direct_message_that_is_not_a_persons_new_message_is_ignored(
    slack: FakeSlack, deliver: Deliver, store: RunStore, changes: JSON, reason: str
) -> None:
    """Bot DMs and message_changed/message_deleted in a DM start nothing (kept as ignored)."""
    deliver(with_event(slack.direct_message("U0CAROL01", "x"), **changes))
    assert stored(store) == [("message.im", reason)]


def test_file_share_direct_message_is_an_event(
    slack: FakeSlack, deliver: Deliver, store: RunStore
) -> None:
    """A DM with a file (subtype file_share) is a person's message."""
    file_id = slack.add_file("shot.png", b"\x89PNG....", "image/png")
    body = slack.direct_message("U0CAROL01", "see", files=[file_id])
    deliver(with_event(body, subtype="file_share"))
    assert stored(store) == [("message.im", None)]


@pytest.mark.parametrize(
    ("user", "trust"),
    [("U0ALICE01", "maintainers"), ("U0BOB0001", "collaborators"), ("U0CAROL01", "anyone")],
    ids=["maintainer", "user-group-member", "unknown-user"],
)
def test_mention_trust_comes_from_the_slack_policy(
    slack: FakeSlack, deliver: Deliver, store: RunStore, user: str, trust: str
) -> None:
    """Maintainers by id, collaborators through a user group, anyone else is anyone."""
    deliver(slack.mention(user, "C0BUGS001", "x"))
    event = all_events(store)[0].event
    assert (event.actor, event.trust) == (user, trust)


def test_user_group_members_are_asked_once_within_the_ttl(
    slack: FakeSlack, deliver: Deliver
) -> None:
    """Two mentions by a group member ask usergroups.users.list once (the answer is kept)."""
    deliver(slack.mention("U0BOB0001", "C0BUGS001", "one"))
    deliver(slack.mention("U0BOB0001", "C0BUGS001", "two"))
    asked = [m for m, _ in slack.calls if m == "usergroups.users.list"]
    assert asked == ["usergroups.users.list"]


def test_failed_user_group_lookup_gives_the_least_trust(
    slack: FakeSlack, deliver: Deliver, store: RunStore
) -> None:
    """When Slack refuses usergroups.users.list the member is trusted as anyone."""
    slack.fail_next("usergroups.users.list", "missing_scope")
    deliver(slack.mention("U0BOB0001", "C0BUGS001", "x"))
    assert all_events(store)[0].event.trust == "anyone"


def test_logs_never_carry_the_message_text(slack: FakeSlack, deliver: Deliver) -> None:
    """No log line of a delivery holds the user's words."""
    with structlog.testing.capture_logs() as logs:
        deliver(slack.mention("U0CAROL01", "C0BUGS001", "zebra-canary-words"))
    assert [e for e in logs if "zebra-canary-words" in repr(e)] == []


def test_slack_secrets_are_among_the_values_redacted() -> None:
    """The bot token, app token and signing secret all reach the redactor's list."""
    settings = Settings(
        slack_bot_token="xoxb-canary-bot",
        slack_app_token="xapp-canary-app",
        slack_signing_secret="canary-signing-secret",
        _env_file=None,
    )
    wanted = {"xoxb-canary-bot", "xapp-canary-app", "canary-signing-secret"}
    assert wanted <= set(settings.secret_values())


def test_a_token_pasted_into_a_mention_is_stored_redacted(
    slack: FakeSlack, deliver: Deliver, store: RunStore
) -> None:
    """A configured secret a user pastes into Slack never reaches the store."""
    redactor.add([slack.bot_token])
    deliver(slack.mention("U0CAROL01", "C0BUGS001", f"my token is {slack.bot_token}"))
    assert slack.bot_token not in repr(all_events(store)[0].event.payload)
