"""slack_reply and slack_react through the output gate, against FakeSlack with slack_sdk."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github
from github.Repository import Repository

from factory.config.automation import AutomationSpec
from factory.config.outputs_config import Outputs
from factory.crashpoints import CRASH_ENV
from factory.forge.output_requests import RunContext
from factory.forge.outputs import CRASH_AFTER_GITHUB, OutputGate
from factory.forge.slack_outputs import SLACK_TEXT_CAP, run_slack_side, slack_text
from factory.slack.messages import METADATA_EVENT, SlackSide, SlackThread
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_slack import FakeSlack
from tests.forge.slack_helpers import (
    Mentioned,
    bot_client,
    bot_replies,
    new_mention,
    setup_workspace,
)

BOT, BOT_TOKEN = "factory-bot", "t-slack-bot"
_repos = itertools.count(1)
MakeCtx = Callable[..., RunContext]
BOTH = {"slack_reply": {"max": 2}, "slack_react": {"max": 2}}


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    """One FakeSlack per module with alice and bob."""
    with FakeSlack() as server:
        setup_workspace(server)
        yield server


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    """One FakeGitHub per module with the bot."""
    with FakeGitHub() as server:
        server.add_user(BOT, token=BOT_TOKEN, permission="write")
        yield server


@pytest.fixture
def repo(github: FakeGitHub) -> Repository:
    """A fresh repository, as the bot sees it through PyGithub."""
    name = f"acme/slack-{next(_repos)}"
    github.create_repo(name)
    gh = Github(
        base_url=github.api_url,
        auth=Auth.Token(BOT_TOKEN),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    return gh.get_repo(name)


@pytest.fixture
def mention(slack: FakeSlack) -> Mentioned:
    """A fresh thread started by alice mentioning the bot."""
    return new_mention(slack)


@pytest.fixture
def make_ctx(slack: FakeSlack, repo: Repository, store: RunStore, mention: Mentioned) -> MakeCtx:
    """Return ``make(outputs, thread=<the mention's>, **fields)``: a run about the thread."""

    def make(
        outputs: dict[str, Any] = BOTH, thread: SlackThread | None = mention.thread, **kw: Any
    ) -> RunContext:
        run_id = store.create_run("slack-intake", subject_key=f"slack:{mention.thread}")
        side = SlackSide(bot_client(slack), thread, mention.ts, True, slack.bot_id)
        spec = Outputs.model_validate(outputs)
        return RunContext(run_id, "slack-intake", spec, None, repo, store, slack=side, **kw)

    return make


def _texts(slack: FakeSlack, mention: Mentioned) -> list[object]:
    return [m["text"] for m in bot_replies(slack, mention.thread)]


# -- config ------------------------------------------------------------------------------


def test_slack_outputs_validate_in_an_automation() -> None:
    """An automation listing slack_reply and slack_react with quotas validates."""
    spec = AutomationSpec.model_validate(
        {"name": "x", "on": [{"manual": {}}], "prompt": "p", "outputs": BOTH}
    )
    assert spec.outputs.kinds()[-2:] == ["slack_reply", "slack_react"]


# -- slack_reply -------------------------------------------------------------------------


def test_reply_is_posted_in_the_run_thread(
    make_ctx: MakeCtx, slack: FakeSlack, mention: Mentioned
) -> None:
    """A reply appears in the run's thread with its text."""
    OutputGate().request(make_ctx(), "slack_reply", {"text": "Filed as #12."})
    assert _texts(slack, mention) == ["Filed as #12."]


def test_reply_carries_its_key_in_metadata(
    make_ctx: MakeCtx, slack: FakeSlack, mention: Mentioned, store: RunStore
) -> None:
    """The posted reply's metadata holds the output's idempotency key."""
    ctx = make_ctx()
    decision = OutputGate().request(ctx, "slack_reply", {"text": "hello"})
    [row] = [r for r in store.outputs_for_run(ctx.run_id) if r.id == decision.output_id]
    [reply] = bot_replies(slack, mention.thread)
    assert reply["metadata"] == {
        "event_type": METADATA_EVENT,
        "event_payload": {"key": row.idempotency_key},
    }


def test_repeated_reply_posts_once(make_ctx: MakeCtx, slack: FakeSlack, mention: Mentioned) -> None:
    """The same reply asked twice by one run is posted once; the second is a duplicate."""
    ctx, gate = make_ctx(), OutputGate()
    gate.request(ctx, "slack_reply", {"text": "same"})
    second = gate.request(ctx, "slack_reply", {"text": "same"})
    assert (second.duplicate, len(bot_replies(slack, mention.thread))) == (True, 1)


def test_reply_url_is_the_permalink(make_ctx: MakeCtx, slack: FakeSlack) -> None:
    """The decision's URL is Slack's permalink of the reply."""
    decision = OutputGate().request(make_ctx(), "slack_reply", {"text": "x"})
    assert (decision.status, (decision.url or "").startswith("https://")) == ("applied", True)


@pytest.mark.parametrize(
    ("markup", "posted"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here>", "&lt;!here&gt;"),
        ("<!everyone>", "&lt;!everyone&gt;"),
        ("<@U0BOB0001>", "&lt;@\u200bU0BOB0001&gt;"),
        ("<#C0GENERAL>", "&lt;#C0GENERAL&gt;"),
        ("<!subteam^S0TEAM>", "&lt;!subteam^S0TEAM&gt;"),
    ],
)
def test_reply_cannot_produce_slack_mentions(
    make_ctx: MakeCtx, slack: FakeSlack, mention: Mentioned, markup: str, posted: str
) -> None:
    """Slack mention markup in agent text is posted escaped, as literal text."""
    OutputGate().request(make_ctx(), "slack_reply", {"text": f"ping {markup} now"})
    assert _texts(slack, mention) == [f"ping {posted} now"]


def test_reply_link_markup_is_escaped() -> None:
    """A Slack link with a misleading label comes out as literal text."""
    assert slack_text("<https://evil.example|docs> & co") == (
        "&lt;https://evil.example|docs&gt; &amp; co"
    )


def test_hidden_characters_cannot_split_mention_markup() -> None:
    """A zero-width space inside ``<!channel>`` is removed before escaping, not after."""
    assert slack_text("<!chan\u200bnel>") == "&lt;!channel&gt;"


def test_bare_here_is_neutralized() -> None:
    """A bare ``@here`` gets a zero-width space after the ``@``."""
    assert slack_text("hey @here look") == "hey @\u200bhere look"


def test_reply_secrets_are_redacted(
    make_ctx: MakeCtx, slack: FakeSlack, mention: Mentioned
) -> None:
    """A run secret in the reply text is posted as [redacted]."""
    ctx = make_ctx(secrets=("canary-s3cret-value",))
    OutputGate().request(ctx, "slack_reply", {"text": "token canary-s3cret-value"})
    assert _texts(slack, mention) == ["token [redacted]"]


def test_slack_token_shape_is_redacted() -> None:
    """Anything shaped like a Slack token is redacted even when its value is unknown."""
    assert slack_text("use xoxb-1234567890-abcdefghij") == "use [redacted]"


def test_long_reply_is_capped(make_ctx: MakeCtx, slack: FakeSlack, mention: Mentioned) -> None:
    """A reply over the cap is posted cut to SLACK_TEXT_CAP characters, with a note."""
    decision = OutputGate().request(make_ctx(), "slack_reply", {"text": "a" * 9000})
    [text] = _texts(slack, mention)
    assert (len(str(text)), decision.notes) == (
        SLACK_TEXT_CAP,
        (f"the text was truncated to {SLACK_TEXT_CAP} characters",),
    )


def test_reply_without_thread_is_refused(
    make_ctx: MakeCtx, slack: FakeSlack, mention: Mentioned
) -> None:
    """A run with no Slack thread is refused a reply, and nothing is posted."""
    decision = OutputGate().request(make_ctx(thread=None), "slack_reply", {"text": "x"})
    assert (decision.status, "no Slack thread" in decision.reason, _texts(slack, mention)) == (
        "refused",
        True,
        [],
    )


def test_reply_not_allowed_is_refused(make_ctx: MakeCtx) -> None:
    """An automation without slack_reply in its outputs is refused one."""
    decision = OutputGate().request(make_ctx({"comment": {}}), "slack_reply", {"text": "x"})
    assert decision.reason == "slack_reply: not allowed for automation 'slack-intake'"


def test_reply_quota_holds(make_ctx: MakeCtx, slack: FakeSlack, mention: Mentioned) -> None:
    """A third distinct reply under max 2 is refused."""
    ctx, gate = make_ctx(), OutputGate()
    for text in ("one", "two"):
        gate.request(ctx, "slack_reply", {"text": text})
    third = gate.request(ctx, "slack_reply", {"text": "three"})
    assert (third.status, len(bot_replies(slack, mention.thread))) == ("refused", 2)


def test_slack_refusal_fails_the_output(make_ctx: MakeCtx, slack: FakeSlack) -> None:
    """Slack answering not_in_channel makes a failed output naming that error."""
    slack.fail_next("chat.postMessage", "not_in_channel")
    decision = OutputGate().request(make_ctx(), "slack_reply", {"text": "x"})
    assert (decision.status, decision.reason) == (
        "failed",
        "slack_reply: Slack answered not_in_channel",
    )


# -- slack_react --------------------------------------------------------------------------


def test_react_marks_the_trigger_message(
    make_ctx: MakeCtx, slack: FakeSlack, mention: Mentioned
) -> None:
    """A reaction goes on the message that started the run."""
    OutputGate().request(make_ctx(), "slack_react", {"name": "eyes"})
    assert slack.reactions(mention.thread.channel, mention.ts) == ["eyes"]


def test_react_already_there_is_applied(
    make_ctx: MakeCtx, slack: FakeSlack, mention: Mentioned
) -> None:
    """A second run adding the same reaction is applied, and the message has it once."""
    OutputGate().request(make_ctx(), "slack_react", {"name": "eyes"})
    again = OutputGate().request(make_ctx(), "slack_react", {"name": "eyes"})
    assert (again.status, slack.reactions(mention.thread.channel, mention.ts)) == (
        "applied",
        ["eyes"],
    )


def test_react_outside_the_thread_is_refused(make_ctx: MakeCtx, slack: FakeSlack) -> None:
    """A ts that is not a message of the run's thread is refused."""
    other = new_mention(slack)
    decision = OutputGate().request(make_ctx(), "slack_react", {"name": "eyes", "ts": other.ts})
    assert (decision.status, slack.reactions(other.thread.channel, other.ts)) == ("refused", [])


def test_react_emoji_outside_allowlist_is_refused(make_ctx: MakeCtx) -> None:
    """An emoji not in slack_react.allowed is refused."""
    ctx = make_ctx({"slack_react": {"allowed": ["eyes"]}})
    decision = OutputGate().request(ctx, "slack_react", {"name": "fire"})
    assert decision.reason == "slack_react: emoji 'fire' is not allowed (allowed: 'eyes')"


# -- lineage --------------------------------------------------------------------------------


def test_issue_created_from_a_thread_is_linked(
    make_ctx: MakeCtx, store: RunStore, mention: Mentioned
) -> None:
    """create_issue by a run about a thread links the thread to the new issue."""
    ctx = make_ctx({"create_issue": {}})
    OutputGate().request(ctx, "create_issue", {"title": "Export 500s", "body": "b"})
    assert store.slack_thread_of("issue:1") == str(mention.thread)


def test_issue_created_by_a_run_about_an_issue_is_not_linked(
    slack: FakeSlack, repo: Repository, store: RunStore, mention: Mentioned
) -> None:
    """create_issue by a run whose subject is an issue does not link that issue's thread."""
    run_id = store.create_run("planner", subject_key="issue:7")
    side = SlackSide(bot_client(slack), mention.thread, None, False)
    ctx = RunContext(
        run_id, "planner", Outputs.model_validate({"create_issue": {}}), 7, repo, store, slack=side
    )
    OutputGate().request(ctx, "create_issue", {"title": "Split out", "body": "b"})
    assert store.slack_thread_of("issue:1") is None


def test_run_about_a_linked_issue_gets_its_thread(
    slack: FakeSlack, store: RunStore, mention: Mentioned
) -> None:
    """The SlackSide of a run about an issue filed from a thread points at that thread."""
    store.add_link(f"slack:{mention.thread}", "issue:4")
    side = run_slack_side(store, bot_client(slack), "issue:4")
    assert (side.thread, side.from_subject) == (mention.thread, False)


# -- crash between chat.postMessage and the local commit ------------------------------------

WORKER = Path(__file__).with_name("slack_crash_worker.py")


def _crash_reply(
    slack: FakeSlack, github: FakeGitHub, repo: Repository, store: RunStore, mention: Mentioned
) -> str:
    """Run the worker with the crash point armed; return the crashed run's id."""
    run_id = store.create_run("crash-test", subject_key=f"slack:{mention.thread}")
    env = {
        **os.environ,
        CRASH_ENV: f"{CRASH_AFTER_GITHUB}:slack_reply",
        "FACTORYD_TEST_TOKEN": BOT_TOKEN,
        "FACTORYD_TEST_SLACK_TOKEN": slack.bot_token,
    }
    argv = [slack.api_url, github.api_url, repo.full_name, str(store.path), run_id]
    argv += [str(mention.thread), "Filed as #3."]
    done = subprocess.run(
        [sys.executable, str(WORKER), *argv], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 9, done.stderr
    assert [r.status for r in store.outputs_for_run(run_id)] == ["intent"]
    return run_id


def test_reconcile_after_crash_posts_no_second_reply(
    slack: FakeSlack, github: FakeGitHub, repo: Repository, store: RunStore, mention: Mentioned
) -> None:
    """A crash after chat.postMessage, then reconcile: one reply, found as a duplicate."""
    run_id = _crash_reply(slack, github, repo, store, mention)
    side = SlackSide(bot_client(slack), mention.thread, mention.ts, True, slack.bot_id)
    ctx = RunContext(
        run_id, "crash-test", Outputs.model_validate(BOTH), None, repo, store, slack=side
    )
    [decision] = OutputGate().reconcile(ctx)
    assert (decision.duplicate, _texts(slack, mention)) == (True, ["Filed as #3."])


def test_reconcile_after_crash_marks_the_reply_applied(
    slack: FakeSlack, github: FakeGitHub, repo: Repository, store: RunStore, mention: Mentioned
) -> None:
    """Reconcile marks the crashed reply applied with its permalink."""
    run_id = _crash_reply(slack, github, repo, store, mention)
    side = SlackSide(bot_client(slack), mention.thread, mention.ts, True, slack.bot_id)
    ctx = RunContext(
        run_id, "crash-test", Outputs.model_validate(BOTH), None, repo, store, slack=side
    )
    OutputGate().reconcile(ctx)
    [row] = store.outputs_for_run(run_id)
    assert (row.status, bool(row.url)) == ("applied", True)
