"""The slack_read tool against FakeSlack: thread text, authors, trust, images fetched by the
daemon, and images carried through the session to the Anthropic request."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from factory.agent.model import AnthropicModel
from factory.agent.session import Session, SessionConfig
from factory.agent.tools import ImageBlock, ToolRegistry, ToolResult
from factory.forge.read_tool import authored
from factory.forge.slack_read import MAX_IMAGE_BYTES, MAX_MESSAGES, SlackReader, slack_read_tool
from factory.slack.client import web_client
from factory.slack.messages import SlackSide, SlackThread, find_message, post_message
from factory.store import RunStore
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.fake_slack import FakeSlack
from tests.conftest import SONNET_PRICES
from tests.forge.slack_helpers import REPORTER, Mentioned, bot_client, new_mention, setup_workspace

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
TRUST = {REPORTER: "maintainers"}


def trust_of(user: str) -> str:
    """The test's trust mapping: alice is a maintainer, everyone else anyone."""
    return TRUST.get(user, "anyone")


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    """One FakeSlack per module with alice and bob."""
    with FakeSlack() as server:
        setup_workspace(server)
        yield server


def read(slack: FakeSlack, thread: SlackThread, **tool_input: object) -> ToolResult:
    """Run slack_read on ``thread`` as the bot."""
    reader = SlackReader(bot_client(slack), thread, trust_of, bot_id=slack.bot_id)
    return reader.run(tool_input)


def calls_of(slack: FakeSlack, method: str) -> int:
    """Return how many times FakeSlack saw ``method``."""
    return sum(1 for name, _ in slack.calls if name == method)


def test_message_is_fenced_with_author_and_trust(slack: FakeSlack) -> None:
    """Each message is fenced and labelled with display name, user id and trust."""
    m = new_mention(slack, "export 500s")
    result = read(slack, m.thread)
    fence = authored(
        "slack message", f"Alice ({REPORTER})", "maintainers", f"<@{slack.bot_user_id}> export 500s"
    )
    assert fence in result.content


def test_untrusted_author_is_labelled_anyone(slack: FakeSlack) -> None:
    """A reply by someone not in the policy is labelled with trust anyone."""
    m = new_mention(slack)
    slack.mention("U0BOB0001", m.thread.channel, "me too", thread_ts=m.ts)
    result = read(slack, m.thread)
    assert "slack message by Bob (U0BOB0001) (association: anyone)" in result.content


def test_display_names_are_asked_once_per_user(slack: FakeSlack) -> None:
    """Three messages by one person cost one users.info call."""
    m = new_mention(slack)
    for text in ("also", "and this"):
        slack.mention(REPORTER, m.thread.channel, text, thread_ts=m.ts)
    before = calls_of(slack, "users.info")
    read(slack, m.thread)
    assert calls_of(slack, "users.info") - before == 1


def test_thread_image_is_attached(slack: FakeSlack) -> None:
    """A PNG posted in the thread comes back as an image block with its bytes."""
    file_id = slack.add_file("shot.png", PNG, "image/png", user=REPORTER)
    m = new_mention(slack, "see screenshot", files=[file_id])
    assert read(slack, m.thread).images == (ImageBlock("image/png", PNG, "shot.png"),)


def test_images_can_be_left_out(slack: FakeSlack) -> None:
    """include_images false fetches no image."""
    file_id = slack.add_file("shot.png", PNG, "image/png", user=REPORTER)
    m = new_mention(slack, "see screenshot", files=[file_id])
    assert read(slack, m.thread, include_images=False).images == ()


def test_non_image_file_is_not_downloaded(slack: FakeSlack) -> None:
    """A text file in the thread is named but never downloaded."""
    file_id = slack.add_file("log.txt", b"secret log", "text/plain", user=REPORTER)
    m = new_mention(slack, "log attached", files=[file_id])
    before = calls_of(slack, "files.download")
    result = read(slack, m.thread)
    assert (result.images, calls_of(slack, "files.download") - before) == ((), 0)


def test_oversized_image_is_not_downloaded(slack: FakeSlack) -> None:
    """An image over MAX_IMAGE_BYTES is refused from files.info, before any download."""
    file_id = slack.add_file("big.png", b"\0" * (MAX_IMAGE_BYTES + 1), "image/png", user=REPORTER)
    m = new_mention(slack, "big one", files=[file_id])
    before = calls_of(slack, "files.download")
    result = read(slack, m.thread)
    assert (result.images, calls_of(slack, "files.download") - before) == ((), 0)


def test_token_is_not_sent_to_another_host(slack: FakeSlack) -> None:
    """A file whose url_private is not on the API's host is not downloaded with the token."""
    file_id = slack.add_file("shot.png", PNG, "image/png", user=REPORTER)
    m = new_mention(slack, "see screenshot", files=[file_id])
    other = web_client(slack.bot_token, slack.api_url.replace("127.0.0.1", "localhost"))
    before = calls_of(slack, "files.download")
    result = SlackReader(other, m.thread, trust_of).run({})
    assert (result.images, calls_of(slack, "files.download") - before) == ((), 0)


def test_result_never_contains_the_token(slack: FakeSlack) -> None:
    """The bot token appears nowhere in what the model is told."""
    file_id = slack.add_file("shot.png", PNG, "image/png", user=REPORTER)
    m = new_mention(slack, "see screenshot", files=[file_id])
    assert slack.bot_token not in read(slack, m.thread).content


def test_long_thread_is_capped(slack: FakeSlack) -> None:
    """A thread longer than MAX_MESSAGES shows the first MAX_MESSAGES messages."""
    m = new_mention(slack)
    for n in range(MAX_MESSAGES + 5):
        slack.mention("U0BOB0001", m.thread.channel, f"reply {n}", thread_ts=m.ts)
    result = read(slack, m.thread)
    assert result.content.count("<<< slack message by") == MAX_MESSAGES


def test_rate_limited_read_waits_and_succeeds(slack: FakeSlack) -> None:
    """A 429 with Retry-After on conversations.replies is waited out, not an error."""
    m = new_mention(slack)
    slack.rate_limit_next("conversations.replies", retry_after=1)
    assert read(slack, m.thread).is_error is False


def test_slack_refusal_is_an_error_result(slack: FakeSlack) -> None:
    """Slack refusing the read gives an is_error result naming its error."""
    m = new_mention(slack)
    slack.fail_next("conversations.replies", "not_in_channel")
    result = read(slack, m.thread)
    assert (result.is_error, result.content) == (True, "slack_read: Slack answered not_in_channel")


def test_run_without_thread_gets_an_error(slack: FakeSlack) -> None:
    """The tool of a run that has no thread answers an error."""
    tool = slack_read_tool(SlackSide(bot_client(slack)), trust_of)
    assert tool.run({}) == ToolResult("slack_read: this run has no Slack thread", is_error=True)


def test_key_is_found_past_the_first_page(slack: FakeSlack) -> None:
    """find_message pages through conversations.replies to a reply beyond the first page."""
    m = new_mention(slack)
    for n in range(230):
        slack.mention("U0BOB0001", m.thread.channel, f"reply {n}", thread_ts=m.ts)
    posted = post_message(bot_client(slack), m.thread, "late", "k-late")
    assert find_message(bot_client(slack), m.thread, "k-late") == posted


# -- through the session --------------------------------------------------------------------


@pytest.fixture
def anthropic() -> Iterator[FakeAnthropic]:
    """A FakeAnthropic server."""
    with FakeAnthropic() as server:
        yield server


def test_session_sends_thread_images_to_the_model(
    anthropic: FakeAnthropic, slack: FakeSlack, tmp_path: Path
) -> None:
    """The tool_result after slack_read carries the screenshot as a base64 image block."""
    file_id = slack.add_file("shot.png", PNG, "image/png", user=REPORTER)
    m: Mentioned = new_mention(slack, "see screenshot", files=[file_id])
    side = SlackSide(bot_client(slack), m.thread, m.ts, True, slack.bot_id)
    anthropic.enqueue_tool_use("slack_read", {})
    anthropic.enqueue_text("Read it.")
    model = AnthropicModel("test-key", anthropic.base_url, max_retries=0, overloaded_retries=0)
    with RunStore.open(tmp_path / "f.db") as store:
        config = SessionConfig(model="claude-sonnet-test", tools=("slack_read",))
        registry = ToolRegistry([slack_read_tool(side, trust_of)])
        run_id = store.create_run("slack-intake")
        Session(model, registry, config, store, run_id, SONNET_PRICES.cost_usd).run(["s"], "c")
    model.close()
    [result] = [b for b in anthropic.requests[1]["messages"][-1]["content"]]
    images = [b for b in result["content"] if b["type"] == "image"]
    assert images == [
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": "image/png",
                "data": base64.b64encode(PNG).decode(),
            },
        }
    ]
