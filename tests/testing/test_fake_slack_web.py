"""FakeSlack's Web API driven through slack_sdk.WebClient: auth, messages, threads, files."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from factory.testing.fake_slack import FakeSlack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A started FakeSlack with alice (U1), bob (U2) and the channel #bugs (C1)."""
    with FakeSlack() as fake:
        fake.add_user("U1", "alice", display_name="Alice")
        fake.add_user("U2", "bob", display_name="Bob")
        fake.add_channel("C1", "bugs")
        yield fake


@pytest.fixture
def web(slack: FakeSlack) -> WebClient:
    """A real WebClient with the bot token on the fake."""
    return WebClient(token=slack.bot_token, base_url=slack.api_url)


def error_of(call: object) -> str:
    """Return the Slack error code a failed WebClient call raised."""
    assert isinstance(call, SlackApiError)
    return str(call.response["error"])


def test_auth_test_names_the_bot(slack: FakeSlack, web: WebClient) -> None:
    """auth.test with the bot token answers the bot's user id and bot id."""
    got = web.auth_test()
    assert (got["user_id"], got["bot_id"], got["team_id"]) == (
        slack.bot_user_id,
        slack.bot_id,
        slack.team_id,
    )


def test_wrong_token_is_invalid_auth_with_http_200(slack: FakeSlack) -> None:
    """A token the workspace does not know answers HTTP 200 ok:false invalid_auth."""
    with pytest.raises(SlackApiError) as err:
        WebClient(token="xoxb-nope", base_url=slack.api_url).auth_test()
    assert (err.value.response.status_code, error_of(err.value)) == (200, "invalid_auth")


def test_missing_token_is_not_authed(slack: FakeSlack) -> None:
    """A call without any token answers not_authed."""
    with pytest.raises(SlackApiError) as err:
        WebClient(base_url=slack.api_url).auth_test()
    assert error_of(err.value) == "not_authed"


def test_connections_open_refuses_the_bot_token(slack: FakeSlack, web: WebClient) -> None:
    """apps.connections.open with the bot token answers not_allowed_token_type."""
    with pytest.raises(SlackApiError) as err:
        web.apps_connections_open(app_token=slack.bot_token)
    assert error_of(err.value) == "not_allowed_token_type"


def test_connections_open_with_app_token_gives_a_socket_url(slack: FakeSlack) -> None:
    """apps.connections.open with the xapp- token answers a ws:// URL with a ticket."""
    got = WebClient(base_url=slack.api_url).apps_connections_open(app_token=slack.app_token)
    assert str(got["url"]).startswith(f"ws://127.0.0.1:{slack.socket.port}/socket?ticket=")


def test_app_token_cannot_post_messages(slack: FakeSlack) -> None:
    """The app-level token is refused by Web API methods other than apps.connections.open."""
    app = WebClient(token=slack.app_token, base_url=slack.api_url)
    with pytest.raises(SlackApiError) as err:
        app.chat_postMessage(channel="C1", text="hi")
    assert error_of(err.value) == "not_allowed_token_type"


def test_unknown_method_is_unknown_method(web: WebClient) -> None:
    """A method the fake does not serve answers unknown_method, not a success."""
    with pytest.raises(SlackApiError) as err:
        web.api_call("chat.fly")
    assert error_of(err.value) == "unknown_method"


def test_bot_reply_carries_bot_id_and_bot_user(slack: FakeSlack, web: WebClient) -> None:
    """A message the bot posts in a thread is stored with bot_id and user = the bot's user id."""
    parent = slack.mention("U1", "C1", "export 500s")["event"]["ts"]
    got = web.chat_postMessage(channel="C1", text="on it", thread_ts=parent)
    reply = slack.thread("C1", parent)[1]
    assert (reply["ts"], reply["bot_id"], reply["user"], reply["thread_ts"]) == (
        got["ts"],
        slack.bot_id,
        slack.bot_user_id,
        parent,
    )


def test_timestamps_are_unique_and_increasing(web: WebClient) -> None:
    """Successive posts get strictly increasing, distinct "seconds.micros" timestamps."""
    stamps = [str(web.chat_postMessage(channel="C1", text=f"m{i}")["ts"]) for i in range(5)]
    keys = [tuple(int(p) for p in ts.split(".")) for ts in stamps]
    assert (keys == sorted(set(keys)), all(len(ts.split(".")[1]) == 6 for ts in stamps)) == (
        True,
        True,
    )


def test_reply_to_a_reply_joins_the_parent_thread(slack: FakeSlack, web: WebClient) -> None:
    """Posting with a reply's ts as thread_ts files the message under the thread's parent."""
    parent = slack.mention("U1", "C1", "hi")["event"]["ts"]
    first = web.chat_postMessage(channel="C1", text="a", thread_ts=parent)["ts"]
    web.chat_postMessage(channel="C1", text="b", thread_ts=first)
    assert [m["text"] for m in slack.thread("C1", parent)] == [
        f"<@{slack.bot_user_id}> hi",
        "a",
        "b",
    ]


def test_post_to_unknown_thread_is_refused(web: WebClient) -> None:
    """chat.postMessage with a thread_ts no message has answers invalid_thread_ts."""
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel="C1", text="x", thread_ts="1700000000.000100")
    assert error_of(err.value) == "invalid_thread_ts"


def test_post_without_membership_is_not_in_channel(slack: FakeSlack, web: WebClient) -> None:
    """Posting in a channel the bot is not a member of answers not_in_channel."""
    slack.add_channel("C9", "secret", member=False)
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel="C9", text="x")
    assert error_of(err.value) == "not_in_channel"


def test_post_to_unknown_channel_is_channel_not_found(web: WebClient) -> None:
    """Posting in a channel that does not exist answers channel_not_found."""
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel="C404", text="x")
    assert error_of(err.value) == "channel_not_found"


def test_post_without_text_is_no_text(web: WebClient) -> None:
    """chat.postMessage with neither text nor blocks answers no_text."""
    with pytest.raises(SlackApiError) as err:
        web.api_call("chat.postMessage", json={"channel": "C1"})
    assert error_of(err.value) == "no_text"


def test_form_encoded_post_is_accepted(slack: FakeSlack, web: WebClient) -> None:
    """A form-encoded chat.postMessage posts like the JSON one slack_sdk sends."""
    got = web.api_call("chat.postMessage", params={"channel": "C1", "text": "form"})
    assert slack.thread("C1", str(got["ts"]))[0]["text"] == "form"


def test_replies_give_parent_first_then_replies_in_order(slack: FakeSlack, web: WebClient) -> None:
    """conversations.replies lists the parent, then the replies in ts order."""
    parent = slack.mention("U1", "C1", "p")["event"]["ts"]
    web.chat_postMessage(channel="C1", text="r1", thread_ts=parent)
    slack.mention("U2", "C1", "r2", thread_ts=parent)
    got = web.conversations_replies(channel="C1", ts=parent)
    texts = [m["text"] for m in got["messages"]]
    assert texts == [f"<@{slack.bot_user_id}> p", "r1", f"<@{slack.bot_user_id}> r2"]


def test_replies_paginate_with_cursor(slack: FakeSlack, web: WebClient) -> None:
    """limit pages the thread; next_cursor fetches the rest and the last page has no more."""
    parent = slack.mention("U1", "C1", "p")["event"]["ts"]
    for i in range(4):
        web.chat_postMessage(channel="C1", text=f"r{i}", thread_ts=parent)
    first = web.conversations_replies(channel="C1", ts=parent, limit=2)
    second = web.conversations_replies(
        channel="C1", ts=parent, limit=2, cursor=first["response_metadata"]["next_cursor"]
    )
    third = web.conversations_replies(
        channel="C1", ts=parent, limit=2, cursor=second["response_metadata"]["next_cursor"]
    )
    pages = [([m["text"] for m in p["messages"]], p["has_more"]) for p in (first, second, third)]
    assert pages == [
        ([f"<@{slack.bot_user_id}> p", "r0"], True),
        (["r1", "r2"], True),
        (["r3"], False),
    ]


def test_replies_reject_a_bad_cursor(slack: FakeSlack, web: WebClient) -> None:
    """A cursor the fake never issued answers invalid_cursor."""
    parent = slack.mention("U1", "C1", "p")["event"]["ts"]
    with pytest.raises(SlackApiError) as err:
        web.conversations_replies(channel="C1", ts=parent, cursor="bm9wZQ==")
    assert error_of(err.value) == "invalid_cursor"


def test_replies_oldest_filters_replies(slack: FakeSlack, web: WebClient) -> None:
    """oldest keeps the parent and only the replies after it."""
    parent = slack.mention("U1", "C1", "p")["event"]["ts"]
    old = web.chat_postMessage(channel="C1", text="old", thread_ts=parent)["ts"]
    web.chat_postMessage(channel="C1", text="new", thread_ts=parent)
    got = web.conversations_replies(channel="C1", ts=parent, oldest=old)
    assert [m["text"] for m in got["messages"]][1:] == ["new"]


def test_replies_of_unknown_thread_is_thread_not_found(web: WebClient) -> None:
    """conversations.replies for a ts no message has answers thread_not_found."""
    with pytest.raises(SlackApiError) as err:
        web.conversations_replies(channel="C1", ts="1700000000.000100")
    assert error_of(err.value) == "thread_not_found"


def test_metadata_only_with_include_all_metadata(slack: FakeSlack, web: WebClient) -> None:
    """Message metadata is returned by conversations.replies only with include_all_metadata."""
    meta = {"event_type": "factory_run", "event_payload": {"run": "r1"}}
    ts = web.chat_postMessage(channel="C1", text="x", metadata=meta)["ts"]
    plain = web.conversations_replies(channel="C1", ts=ts)["messages"][0]
    full = web.conversations_replies(channel="C1", ts=ts, include_all_metadata=True)
    assert ("metadata" in plain, full["messages"][0]["metadata"]) == (False, meta)


def test_bad_metadata_is_invalid_metadata_format(web: WebClient) -> None:
    """Metadata without event_type/event_payload answers invalid_metadata_format."""
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel="C1", text="x", metadata={"event_type": "x"})
    assert error_of(err.value) == "invalid_metadata_format"


def test_reacting_twice_is_already_reacted(slack: FakeSlack, web: WebClient) -> None:
    """The second identical reactions.add answers already_reacted and adds nothing."""
    ts = slack.mention("U1", "C1", "p")["event"]["ts"]
    web.reactions_add(channel="C1", timestamp=ts, name="eyes")
    with pytest.raises(SlackApiError) as err:
        web.reactions_add(channel="C1", timestamp=ts, name="eyes")
    assert (error_of(err.value), slack.reactions("C1", ts)) == ("already_reacted", ["eyes"])


def test_reacting_to_missing_message_is_message_not_found(web: WebClient) -> None:
    """reactions.add on a ts no message has answers message_not_found."""
    with pytest.raises(SlackApiError) as err:
        web.reactions_add(channel="C1", timestamp="1700000000.000100", name="eyes")
    assert error_of(err.value) == "message_not_found"


def test_users_info_gives_display_name(web: WebClient) -> None:
    """users.info answers the user's name and profile display name."""
    user = web.users_info(user="U1")["user"]
    assert (user["id"], user["name"], user["profile"]["display_name"], user["is_bot"]) == (
        "U1",
        "alice",
        "Alice",
        False,
    )


def test_users_info_unknown_is_user_not_found(web: WebClient) -> None:
    """users.info for an unknown id answers user_not_found."""
    with pytest.raises(SlackApiError) as err:
        web.users_info(user="U404")
    assert error_of(err.value) == "user_not_found"


def test_usergroup_members_are_listed(slack: FakeSlack, web: WebClient) -> None:
    """usergroups.users.list answers the group's member ids; an unknown group errors."""
    slack.add_usergroup("S1", ["U1", "U2"])
    with pytest.raises(SlackApiError) as err:
        web.usergroups_users_list(usergroup="S404")
    assert (web.usergroups_users_list(usergroup="S1")["users"], error_of(err.value)) == (
        ["U1", "U2"],
        "no_such_subteam",
    )


def test_file_download_with_bot_token(slack: FakeSlack, web: WebClient) -> None:
    """files.info's url_private serves the bytes to the bot token."""
    file_id = slack.add_file("shot.png", b"\x89PNG-bytes", "image/png")
    url = web.files_info(file=file_id)["file"]["url_private"]
    got = httpx.get(url, headers={"Authorization": f"Bearer {slack.bot_token}"})
    assert (got.status_code, got.content, got.headers["content-type"]) == (
        200,
        b"\x89PNG-bytes",
        "image/png",
    )


def test_file_download_without_token_redirects_to_login(slack: FakeSlack, web: WebClient) -> None:
    """url_private without a token answers a 302 to the login page, not the bytes."""
    file_id = slack.add_file("shot.png", b"png", "image/png")
    url = web.files_info(file=file_id)["file"]["url_private"]
    got = httpx.get(url)
    assert (got.status_code, b"png" in got.content) == (302, False)


def test_file_download_with_other_token_is_forbidden(slack: FakeSlack, web: WebClient) -> None:
    """url_private with a token other than the bot's answers 403."""
    file_id = slack.add_file("shot.png", b"png", "image/png")
    url = web.files_info(file=file_id)["file"]["url_private"]
    got = httpx.get(url, headers={"Authorization": f"Bearer {slack.app_token}"})
    assert got.status_code == 403


def test_files_info_unknown_is_file_not_found(web: WebClient) -> None:
    """files.info for an unknown id answers file_not_found."""
    with pytest.raises(SlackApiError) as err:
        web.files_info(file="F404")
    assert error_of(err.value) == "file_not_found"


def test_permalink_of_a_reply_names_the_thread(slack: FakeSlack, web: WebClient) -> None:
    """chat.getPermalink of a thread reply carries thread_ts and cid."""
    parent = slack.mention("U1", "C1", "p")["event"]["ts"]
    reply = web.chat_postMessage(channel="C1", text="r", thread_ts=parent)["ts"]
    link = web.chat_getPermalink(channel="C1", message_ts=reply)["permalink"]
    digits = str(reply).replace(".", "")
    assert link == (
        f"https://factory-test.slack.com/archives/C1/p{digits}?thread_ts={parent}&cid=C1"
    )


def test_fail_next_fails_once(web: WebClient, slack: FakeSlack) -> None:
    """fail_next answers the next call with the error, and the call after it succeeds."""
    slack.fail_next("chat.postMessage", "not_in_channel")
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel="C1", text="x")
    assert (error_of(err.value), web.chat_postMessage(channel="C1", text="x")["ok"]) == (
        "not_in_channel",
        True,
    )


def test_rate_limit_is_http_429_with_retry_after(slack: FakeSlack) -> None:
    """rate_limit_next answers HTTP 429, Retry-After and the ratelimited body."""
    slack.rate_limit_next("conversations.replies", retry_after=3)
    got = httpx.post(
        slack.api_url + "conversations.replies",
        headers={"Authorization": f"Bearer {slack.bot_token}"},
        data={"channel": "C1", "ts": "1700000000.000100"},
    )
    assert (got.status_code, got.headers["retry-after"], got.json()) == (
        429,
        "3",
        {"ok": False, "error": "ratelimited"},
    )


def test_rate_limited_call_is_retried_by_slack_sdk(slack: FakeSlack) -> None:
    """slack_sdk's RateLimitErrorRetryHandler waits out Retry-After and the retry succeeds."""
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    web = WebClient(token=slack.bot_token, base_url=slack.api_url)
    web.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    slack.rate_limit_next("auth.test", retry_after=0)
    assert (web.auth_test()["ok"], [m for m, _ in slack.calls]) == (True, ["auth.test"] * 2)


def test_calls_never_record_tokens(slack: FakeSlack, web: WebClient) -> None:
    """The call log keeps method and params but no token value."""
    WebClient(base_url=slack.api_url).apps_connections_open(app_token=slack.app_token)
    web.chat_postMessage(channel="C1", text="x")
    logged = repr(slack.calls)
    assert (slack.app_token in logged, slack.bot_token in logged, len(slack.calls)) == (
        False,
        False,
        2,
    )
