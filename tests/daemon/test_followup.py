"""Thread follow-up by the daemon: one update per transition, thread replies as issue comments,
against FakeSlack and FakeGitHub with the real clients and a real store."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github
from github.Repository import Repository

from factory.config.loader import load_factory
from factory.crashpoints import CRASH_ENV
from factory.daemon.dispatch import Dispatcher
from factory.daemon.followup import Followup, closed_issues, slack_to_plain
from factory.events import Event, Subject, Trust
from factory.forge.outputs import CRASH_AFTER_GITHUB
from factory.store import EventRecord, RunStore
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_slack import FakeSlack
from tests.forge.slack_helpers import (
    Mentioned,
    bot_client,
    bot_replies,
    new_mention,
    setup_workspace,
)

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("followup_crash_worker.py")
BOT, BOT_TOKEN = "factory-bot", "t-followup-bot"
_repos = itertools.count(1)
_keys = itertools.count(1)


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    """One FakeSlack per module with alice and bob."""
    with FakeSlack() as server:
        setup_workspace(server)
        yield server


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    """One FakeGitHub per module with the bot and alice."""
    with FakeGitHub() as server:
        server.add_user(BOT, token=BOT_TOKEN, permission="write")
        server.add_user("alice", token="t-alice-fu", permission="admin")
        yield server


@pytest.fixture
def repo(github: FakeGitHub) -> Repository:
    """A fresh repository with issue #1 (filed from the thread), as the bot sees it."""
    name = f"acme/followup-{next(_repos)}"
    github.create_repo(name)
    github.create_issue(name, "Export 500s", "From Slack.", as_user="alice")
    gh = Github(
        base_url=github.api_url,
        auth=Auth.Token(BOT_TOKEN),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    return gh.get_repo(name)


@pytest.fixture
def mention(slack: FakeSlack, store: RunStore) -> Mentioned:
    """A thread that issue #1 was filed from (the lineage link is stored)."""
    m = new_mention(slack)
    store.add_link(f"slack:{m.thread}", "issue:1")
    return m


@pytest.fixture
def followup(slack: FakeSlack, repo: Repository, store: RunStore) -> Followup:
    """The daemon's follow-up over the fakes."""
    return Followup(
        store, bot_client(slack), repo, bot_user_id=slack.bot_user_id, bot_id=slack.bot_id
    )


def stored(store: RunStore, event: Event) -> EventRecord:
    """Store ``event`` and return its record."""
    event_id, _ = store.add_event(event)
    return store.get_event(event_id)


def pr_event(
    store: RunStore, action: str, number: int = 5, body: str = "Closes #1", **pr: Any
) -> EventRecord:
    """Store a pull_request.<action> event for PR ``number``."""
    pull = {"number": number, "title": "Fix export", "body": body, **pr}
    pull.setdefault("html_url", f"https://github.example/acme/x/pull/{number}")
    return stored(
        store,
        Event(
            source="github",
            kind=f"pull_request.{action}",
            dedup_key=f"gh-{next(_keys)}",
            subject=Subject(kind="pull_request", number=number),
            payload={"action": action, "pull_request": pull},
        ),
    )


def issue_event(store: RunStore, kind: str, number: int = 1, **payload: Any) -> EventRecord:
    """Store an issues.* (or pull_request.labeled) event about ``number``."""
    subject_kind = "pull_request" if kind.startswith("pull_request") else "issue"
    return stored(
        store,
        Event(
            source="github",
            kind=kind,
            dedup_key=f"gh-{next(_keys)}",
            subject=Subject(kind=subject_kind, number=number),  # type: ignore[arg-type]
            payload=payload,
        ),
    )


def thread_reply(
    store: RunStore, slack: FakeSlack, m: Mentioned, text: str, trust: Trust = "anyone"
) -> EventRecord:
    """Mention the bot again in the thread as bob; store the event the source would make."""
    body = slack.mention("U0BOB0001", m.thread.channel, text, thread_ts=m.ts)
    ev = body["event"]
    return stored(
        store,
        Event(
            source="slack",
            kind="app_mention",
            dedup_key=f"slack:{body['event_id']}",
            subject=Subject(
                kind="slack", thread=f"{ev['channel']}/{ev.get('thread_ts') or ev['ts']}"
            ),
            actor=ev["user"],
            trust=trust,
            payload={
                "event_id": body["event_id"],
                "channel": ev["channel"],
                "ts": ev["ts"],
                "thread_ts": ev.get("thread_ts") or ev["ts"],
                "user": ev["user"],
                "text": ev["text"],
                "files": [],
            },
        ),
    )


def texts(slack: FakeSlack, m: Mentioned) -> list[object]:
    """Return the bot's messages in the thread."""
    return [msg["text"] for msg in bot_replies(slack, m.thread)]


def run(followup: Followup, *records: EventRecord) -> None:
    """Absorb ``records`` in order, then perform what they decided."""
    for record in records:
        followup.absorb(record)
    followup.perform_pending()


# -- parsing ----------------------------------------------------------------------------


def test_closing_keywords_are_found() -> None:
    """Every GitHub closing keyword form names its issue, each once."""
    assert closed_issues("Fixes #3, closes #4 and resolved: #3. See #9.") == [3, 4]


def test_slack_markup_becomes_plain_text() -> None:
    """The bot's mention is dropped; users, channels, links and entities become plain."""
    text = "<@UBOT> ask <@U1> in <#C1|bugs> see <https://x.example|docs> &lt;b&gt;"
    assert slack_to_plain(text, "UBOT") == "ask @U1 in #bugs see docs (https://x.example) <b>"


# -- transitions ----------------------------------------------------------------------------


def test_pr_closing_the_issue_is_told_in_the_thread(
    followup: Followup, store: RunStore, slack: FakeSlack, mention: Mentioned
) -> None:
    """A PR that closes the thread's issue gets one update with its link."""
    run(followup, pr_event(store, "opened"))
    assert texts(slack, mention) == [
        "A pull request for #1 is open: <https://github.example/acme/x/pull/5|#5 Fix export>"
    ]


def test_pr_closing_the_issue_is_linked_to_it(
    followup: Followup, store: RunStore, mention: Mentioned
) -> None:
    """The PR is linked to the issue, so it finds the thread."""
    followup.absorb(pr_event(store, "opened"))
    assert store.slack_thread_of("pull_request:5") == str(mention.thread)


def test_same_transition_seen_twice_is_told_once(
    followup: Followup, store: RunStore, slack: FakeSlack, mention: Mentioned
) -> None:
    """The same PR opening stored twice (webhook and poller) makes one update."""
    run(followup, pr_event(store, "opened"), pr_event(store, "opened"))
    assert len(texts(slack, mention)) == 1


def test_pr_not_closing_the_issue_is_not_told(
    followup: Followup, store: RunStore, slack: FakeSlack, mention: Mentioned
) -> None:
    """A PR that only mentions the issue neither links nor posts."""
    run(followup, pr_event(store, "opened", body="Related to #1"))
    assert (texts(slack, mention), store.slack_thread_of("pull_request:5")) == ([], None)


def test_merge_is_told(
    followup: Followup, store: RunStore, slack: FakeSlack, mention: Mentioned
) -> None:
    """The merge of the issue's PR is a second, different update."""
    run(followup, pr_event(store, "opened"), pr_event(store, "closed", merged=True))
    assert texts(slack, mention)[1:] == [
        "Merged: <https://github.example/acme/x/pull/5|#5 Fix export>"
    ]


def test_pr_closed_without_merge_is_not_told(
    followup: Followup, store: RunStore, slack: FakeSlack, mention: Mentioned
) -> None:
    """A PR closed unmerged adds nothing after its opening update."""
    run(followup, pr_event(store, "opened"), pr_event(store, "closed", merged=False))
    assert len(texts(slack, mention)) == 1


def test_issue_closed_is_told(
    followup: Followup, store: RunStore, slack: FakeSlack, mention: Mentioned
) -> None:
    """Closing the thread's issue is told with its reason."""
    run(followup, issue_event(store, "issues.closed", issue={"state_reason": "completed"}))
    assert texts(slack, mention) == ["#1 was closed (completed)."]


def test_needs_human_on_the_pr_is_told(
    followup: Followup, store: RunStore, slack: FakeSlack, mention: Mentioned
) -> None:
    """The issue's PR getting needs-human is told."""
    labeled = issue_event(store, "pull_request.labeled", 5, label={"name": "needs-human"})
    run(followup, pr_event(store, "opened"), labeled)
    assert texts(slack, mention)[1:] == ["#5 needs a person now (labelled needs-human)."]


def test_other_label_is_not_told(
    followup: Followup, store: RunStore, slack: FakeSlack, mention: Mentioned
) -> None:
    """A label other than needs-human posts nothing."""
    run(followup, issue_event(store, "issues.labeled", label={"name": "bug"}))
    assert texts(slack, mention) == []


def test_update_without_slack_waits(store: RunStore, repo: Repository, mention: Mentioned) -> None:
    """With no Slack client the decided update stays pending, not failed."""
    waiting = Followup(store, None, repo)
    run(waiting, issue_event(store, "issues.closed"))
    assert [r.status for r in store.followups_of_thread(str(mention.thread))] == ["intent"]


def test_slack_refusal_fails_the_update(
    followup: Followup, store: RunStore, slack: FakeSlack, mention: Mentioned
) -> None:
    """Slack refusing the post marks the follow-up failed with Slack's error."""
    slack.fail_next("chat.postMessage", "is_archived")
    run(followup, issue_event(store, "issues.closed"))
    [row] = store.followups_of_thread(str(mention.thread))
    assert (row.status, row.error) == ("failed", "Slack answered is_archived")


# -- thread replies ----------------------------------------------------------------------------


def test_thread_reply_is_absorbed(
    followup: Followup, store: RunStore, slack: FakeSlack, mention: Mentioned
) -> None:
    """A mention in a thread whose issue is open is absorbed (no intake run)."""
    assert followup.absorb(thread_reply(store, slack, mention, "it also fails on CSV")) is True


def test_thread_reply_becomes_an_issue_comment(
    followup: Followup,
    store: RunStore,
    slack: FakeSlack,
    github: FakeGitHub,
    repo: Repository,
    mention: Mentioned,
) -> None:
    """The reply is posted on the issue with author, id and trust, mentions neutralized."""
    run(followup, thread_reply(store, slack, mention, "also on CSV, cc @octocat"))
    [comment] = github.issue(repo.full_name, 1).comments
    head, _, quoted = comment.body.partition("\n\n")
    assert (head, quoted.splitlines()[0]) == (
        "Slack follow-up from Bob (Slack user U0BOB0001, trust: anyone)"
        " in the thread this issue was filed from:",
        "> also on CSV, cc @\u200boctocat",
    )


def test_thread_reply_comment_is_posted_once(
    followup: Followup,
    store: RunStore,
    slack: FakeSlack,
    github: FakeGitHub,
    repo: Repository,
    mention: Mentioned,
) -> None:
    """Absorbing the same reply twice (a repeated dispatch) makes one comment."""
    record = thread_reply(store, slack, mention, "more detail")
    run(followup, record, record)
    assert len(github.issue(repo.full_name, 1).comments) == 1


def test_reply_after_the_issue_closed_is_not_absorbed(
    followup: Followup, store: RunStore, slack: FakeSlack, mention: Mentioned
) -> None:
    """Once the thread's issue is closed, a new mention goes to dispatch again."""
    followup.absorb(issue_event(store, "issues.closed"))
    assert followup.absorb(thread_reply(store, slack, mention, "it is back")) is False


def test_reply_after_reopen_is_absorbed(
    followup: Followup, store: RunStore, slack: FakeSlack, mention: Mentioned
) -> None:
    """A reopened issue takes thread replies as comments again."""
    issue_event(store, "issues.closed")
    issue_event(store, "issues.reopened")
    assert followup.absorb(thread_reply(store, slack, mention, "still broken")) is True


def test_reply_in_an_unlinked_thread_is_not_absorbed(
    followup: Followup, store: RunStore, slack: FakeSlack
) -> None:
    """A mention in a thread nothing was filed from is left to dispatch."""
    fresh = new_mention(slack)
    assert followup.absorb(thread_reply(store, slack, fresh, "new bug")) is False


def test_dispatcher_makes_no_run_of_an_absorbed_reply(
    followup: Followup, store: RunStore, slack: FakeSlack, mention: Mentioned, tmp_path: Path
) -> None:
    """With the hook set, a thread reply to an open issue starts no intake run."""
    folder = tmp_path / "automations"
    folder.mkdir()
    (folder / "intake.yaml").write_text(
        "name: intake\non:\n  - slack: {}\nsubject: slack\ntrust: anyone\n"
        "workspace: none\nprompt: File it.\n"
    )
    config = load_factory(folder, Path(shutil.copytree(ROOT / "harness", tmp_path / "harness")))
    dispatcher = Dispatcher(store, lambda: config)
    dispatcher.absorb = followup.absorb
    record = thread_reply(store, slack, mention, "one more thing")
    assert (dispatcher.dispatch(record), store.runs_of_event(record.id)) == ([], [])


# -- crash between the write and the local commit --------------------------------------------


@pytest.mark.parametrize("kind", ["slack_update", "issue_comment"])
def test_crash_after_the_write_posts_nothing_twice(
    kind: str,
    followup: Followup,
    store: RunStore,
    slack: FakeSlack,
    github: FakeGitHub,
    repo: Repository,
    mention: Mentioned,
) -> None:
    """kill -9 after Slack/GitHub answered, then perform again: one message, marked applied."""
    record = (
        issue_event(store, "issues.closed")
        if kind == "slack_update"
        else thread_reply(store, slack, mention, "detail")
    )
    env = {
        **os.environ,
        CRASH_ENV: f"{CRASH_AFTER_GITHUB}:{kind}",
        "FACTORYD_TEST_TOKEN": BOT_TOKEN,
        "FACTORYD_TEST_SLACK_TOKEN": slack.bot_token,
    }
    argv = [slack.api_url, github.api_url, repo.full_name, str(store.path), str(record.id)]
    done = subprocess.run(
        [sys.executable, str(WORKER), *argv], env=env, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, [r.status for r in store.pending_followups()]) == (9, ["intent"])
    followup.perform_pending()
    written = (
        len(texts(slack, mention))
        if kind == "slack_update"
        else len(github.issue(repo.full_name, 1).comments)
    )
    [row] = store.followups_of_thread(str(mention.thread))
    assert (written, row.status) == (1, "applied")


def test_poller_close_without_merged_field_asks_github(
    followup: Followup,
    store: RunStore,
    slack: FakeSlack,
    github: FakeGitHub,
    repo: Repository,
    mention: Mentioned,
) -> None:
    """A closed PR event without ``merged`` (the poller's shape) is checked on GitHub: an
    unmerged PR posts no merge update."""
    github.commit_files(repo.full_name, "fix", {"fix.txt": "x\n"}, "Fix")
    pull = github.create_pull(repo.full_name, "fix", "Fix export", "Closes #1", as_user="alice")
    followup.absorb(pr_event(store, "opened", pull.number))
    followup.absorb(pr_event(store, "closed", pull.number))
    followup.perform_pending()
    merged = [r for r in store.followups_of_thread(str(mention.thread)) if ":pr_merged:" in r.key]
    assert ([r.status for r in merged], len(texts(slack, mention))) == (["failed"], 1)
