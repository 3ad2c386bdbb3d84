"""POST /slack/events over real HTTP: signatures, replay window, size cap, dedup, challenge."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.routing import Route

from factory.sources.slack_http import slack_events_route
from factory.store import RunStore
from factory.testing.fake_slack import FakeSlack
from tests.sources.slack_support import SLACK_DATA, all_events, policy_with, source_for

Served = Callable[[Route], httpx.Client]
DELIVERIES = sorted(SLACK_DATA.glob("events.*.json"))


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A FakeSlack workspace with a user and a listed channel."""
    with FakeSlack() as fake:
        fake.add_user("U0ALICE01", "alice")
        fake.add_channel("C0BUGS001", "bugs")
        yield fake


@pytest.fixture
def client(slack: FakeSlack, store: RunStore, served: Served) -> httpx.Client:
    """A real server running the Slack route for a source listening in C0BUGS001 and C111."""
    source = source_for(slack, store, policy_with(channels=["C0BUGS001", "C111"]))
    return served(slack_events_route(source, SecretStr(slack.signing_secret), max_body=8192))


def post(
    client: httpx.Client, body: bytes, headers: dict[str, str], **extra: str
) -> httpx.Response:
    """POST ``body`` to /slack/events with ``headers`` (and ``extra`` headers)."""
    return client.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": "application/json", **headers, **extra},
    )


def mention_body(slack: FakeSlack) -> bytes:
    """Return the raw body of a fresh mention by alice in #bugs."""
    return json.dumps(slack.mention("U0ALICE01", "C0BUGS001", "export 500s")).encode()


@pytest.mark.parametrize("path", DELIVERIES, ids=[p.stem for p in DELIVERIES])
def test_signed_fixture_delivery_is_accepted(
    path: Path, slack: FakeSlack, client: httpx.Client
) -> None:
    """Every recorded Events API delivery, correctly signed, is answered 200."""
    body = path.read_bytes()
    assert post(client, body, slack.sign(body)).status_code == 200


def test_fixture_mention_is_stored_as_an_app_mention_event(
    slack: FakeSlack, client: httpx.Client, store: RunStore
) -> None:
    """The recorded app_mention becomes one event of the shape the Slack brief fixes."""
    body = (SLACK_DATA / "events.app_mention.json").read_bytes()
    post(client, body, slack.sign(body))
    event = all_events(store)[0].event
    assert (event.kind, event.dedup_key, event.subject_key, event.actor, event.payload) == (
        "app_mention",
        "slack:Ev111",
        "slack:C111/1595926230.009600",
        "W222",
        {
            "event_id": "Ev111",
            "team": "T111",
            "channel": "C111",
            "ts": "1595926230.009600",
            "thread_ts": "1595926230.009600",
            "user": "W222",
            "text": "<@W111> Hi there!",
            "files": [],
        },
    )


def test_channel_messages_without_a_mention_store_nothing(
    slack: FakeSlack, client: httpx.Client, store: RunStore
) -> None:
    """Plain channel messages and thread replies (no mention) are acknowledged, not stored."""
    for name in ("events.message.channels.json", "events.message.channels.thread-reply.json"):
        body = (SLACK_DATA / name).read_bytes()
        post(client, body, slack.sign(body))
    assert all_events(store) == []


def test_url_verification_is_answered_with_the_challenge(
    slack: FakeSlack, client: httpx.Client
) -> None:
    """The url_verification request gets 200 and its challenge back."""
    body = (SLACK_DATA / "events.url_verification.json").read_bytes()
    answer = post(client, body, slack.sign(body))
    assert (answer.status_code, answer.json()) == (200, {"challenge": "valid_challenge_token"})


def forged(slack: FakeSlack, body: bytes) -> dict[str, str]:
    """Headers signed with another secret."""
    other = FakeSlack()
    return other.sign(body)


def unsigned(slack: FakeSlack, body: bytes) -> dict[str, str]:
    """Only the timestamp header."""
    return {"X-Slack-Request-Timestamp": str(int(time.time()))}


def stale(slack: FakeSlack, body: bytes) -> dict[str, str]:
    """Correctly signed six minutes ago."""
    return slack.sign(body, int(time.time()) - 360)


def no_timestamp(slack: FakeSlack, body: bytes) -> dict[str, str]:
    """A signature without its timestamp header."""
    return {"X-Slack-Signature": slack.sign(body)["X-Slack-Signature"]}


def garbled_timestamp(slack: FakeSlack, body: bytes) -> dict[str, str]:
    """A timestamp that is not a number."""
    return slack.sign(body) | {"X-Slack-Request-Timestamp": "soon"}


def future(slack: FakeSlack, body: bytes) -> dict[str, str]:
    """Correctly signed six minutes in the future."""
    return slack.sign(body, int(time.time()) + 360)


def sha256_prefix(slack: FakeSlack, body: bytes) -> dict[str, str]:
    """GitHub's signature style instead of v0."""
    value = slack.sign(body)["X-Slack-Signature"].replace("v0=", "sha256=")
    return slack.sign(body) | {"X-Slack-Signature": value}


@pytest.mark.parametrize(
    ("make_headers", "reason"),
    [
        (forged, "signature_mismatch"),
        (unsigned, "missing_signature"),
        (stale, "stale_timestamp"),
        (future, "stale_timestamp"),
        (no_timestamp, "missing_timestamp"),
        (garbled_timestamp, "malformed_timestamp"),
        (sha256_prefix, "malformed_signature"),
    ],
    ids=[
        "forged",
        "missing",
        "six-minutes-old",
        "six-minutes-ahead",
        "no-timestamp",
        "garbled-timestamp",
        "wrong-scheme",
    ],
)
def test_bad_signature_or_timestamp_is_401_and_stores_nothing(
    slack: FakeSlack,
    client: httpx.Client,
    store: RunStore,
    make_headers: Callable[[FakeSlack, bytes], dict[str, str]],
    reason: str,
) -> None:
    """A request Slack did not sign now is refused with 401 and its reason; nothing is stored."""
    body = mention_body(slack)
    answer = post(client, body, make_headers(slack, body))
    assert (answer.status_code, answer.json(), all_events(store)) == (401, {"error": reason}, [])


def test_body_changed_by_one_byte_is_401_and_stores_nothing(
    slack: FakeSlack, client: httpx.Client, store: RunStore
) -> None:
    """Changing one byte after signing breaks the signature."""
    body = mention_body(slack)
    headers = slack.sign(body)
    changed = body.replace(b"export", b"exporT", 1)
    answer = post(client, changed, headers)
    assert (answer.status_code, all_events(store)) == (401, [])


def test_no_signing_secret_refuses_even_a_signed_request(
    slack: FakeSlack, store: RunStore, served: Served
) -> None:
    """Without a configured secret the route fails closed: 401 for everything."""
    source = source_for(slack, store, policy_with(channels=["C0BUGS001"]), signed=False)
    client = served(slack_events_route(source, None))
    body = mention_body(slack)
    answer = post(client, body, slack.sign(body))
    assert (answer.status_code, all_events(store)) == (401, [])


def test_body_over_the_cap_is_413(slack: FakeSlack, client: httpx.Client, store: RunStore) -> None:
    """A signed body larger than the cap is refused with 413 before it is parsed."""
    body = json.dumps({"type": "event_callback", "pad": "x" * 9000}).encode()
    answer = post(client, body, slack.sign(body))
    assert (answer.status_code, all_events(store)) == (413, [])


def test_retries_of_one_event_make_one_stored_event(
    slack: FakeSlack, client: httpx.Client, store: RunStore
) -> None:
    """The same event_id three times (X-Slack-Retry-Num 0, 1, 2) is stored once."""
    body = slack.mention("U0ALICE01", "C0BUGS001", "export 500s")
    url = str(client.base_url).rstrip("/") + "/slack/events"
    codes = [slack.deliver_http(url, body, retry_num=n).status_code for n in range(3)]
    assert (codes, len(all_events(store))) == ([200, 200, 200], 1)


def test_stored_mention_is_committed_before_the_answer(
    slack: FakeSlack, client: httpx.Client, store: RunStore
) -> None:
    """When the 200 arrives, the event is already in the store (read by a second handle)."""
    body = mention_body(slack)
    post(client, body, slack.sign(body))
    other = RunStore.open(store.path, readonly=True)
    assert [r.event.kind for r in all_events(other)] == ["app_mention"]


def test_delivery_the_store_cannot_commit_is_not_acknowledged(
    slack: FakeSlack, store: RunStore, served: Served
) -> None:
    """When the commit fails (a read-only store) the answer is 500, so Slack delivers again."""
    readonly = RunStore.open(store.path, readonly=True)
    source = source_for(slack, readonly, policy_with(channels=["C0BUGS001"]))
    client = served(slack_events_route(source, SecretStr(slack.signing_secret)))
    body = mention_body(slack)
    assert post(client, body, slack.sign(body)).status_code == 500
