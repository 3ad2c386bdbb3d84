"""The world of the Sentry loop tests: a Sentry issue, its GitHub issue #1 approved by a
maintainer, the loop and the real Dispatcher over FakeGitHub, FakeSentry and a real store.
The fixture functions here are made fixtures by each test module (``pytest.fixture(f)``)."""

from __future__ import annotations

import itertools
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from github import Auth, Github
from github.Repository import Repository

from factory.config.harness import Policy
from factory.config.loader import FactoryConfig, load_factory
from factory.config.sentry_policy import SentryPolicy
from factory.daemon.dispatch import Decision, Dispatcher, absorb_all
from factory.daemon.sentry_loop import SentryLoop
from factory.events import Event, Subject
from factory.sentry.client import SentryClient
from factory.sources.sentry import webhook_event
from factory.store import EventRecord, RunStore
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_sentry import FakeSentry

ROOT = Path(__file__).resolve().parents[2]
BOT, BOT_TOKEN = "factory-bot", "t-sentry-loop-bot"
READY, NEEDS_HUMAN = "factory:ready", "needs-human"
_repos = itertools.count(1)
_keys = itertools.count(1)


def next_key() -> str:
    """A fresh GitHub delivery dedup key."""
    return f"gh-{next(_keys)}"


def github_fixture() -> Iterator[FakeGitHub]:
    """One FakeGitHub per module with the bot and alice (a maintainer)."""
    with FakeGitHub() as server:
        server.add_user(BOT, token=BOT_TOKEN, permission="write")
        server.add_user("alice", token="t-alice-sl", permission="admin")
        yield server


def sentry_fixture() -> Iterator[FakeSentry]:
    """A fresh FakeSentry."""
    with FakeSentry() as fake:
        yield fake


def config_fixture(tmp_path: Path) -> FactoryConfig:
    """The shipped automations (the builder, the incident responder)."""
    folder = Path(shutil.copytree(ROOT / "automations", tmp_path / "automations"))
    return load_factory(folder, Path(shutil.copytree(ROOT / "harness", tmp_path / "harness")))


@dataclass
class World:
    """A Sentry issue with its GitHub issue #1 (approved by alice), the loop and dispatch."""

    github: FakeGitHub
    sentry: FakeSentry
    repo: Repository
    store: RunStore
    loop: SentryLoop
    dispatcher: Dispatcher
    issue_id: str
    client: SentryClient
    next_pr: int = 5

    @property
    def name(self) -> str:
        """The repository's full name."""
        return self.repo.full_name

    def store_event(self, event: Event) -> EventRecord:
        """Store ``event`` and return its record."""
        event_id, _ = self.store.add_event(event)
        return self.store.get_event(event_id)

    def tick(self) -> list[Decision]:
        """Dispatch what is stored and perform the loop's intents, as the daemon's tick does."""
        decisions = self.dispatcher.dispatch_pending()
        self.loop.perform_pending()
        return decisions

    def merge(self, body: str = "Closes #1", merged: bool | None = True) -> int:
        """Store a pull request's opening and its merge; return its number."""
        number, self.next_pr = self.next_pr, self.next_pr + 1
        pull = {
            "number": number,
            "title": "Fix division",
            "body": body,
            "html_url": f"https://github.example/{self.name}/pull/{number}",
        }
        for action in ("opened", "closed"):
            extra = {"merged": merged} if action == "closed" and merged is not None else {}
            self.store_event(
                Event(
                    source="github",
                    kind=f"pull_request.{action}",
                    dedup_key=next_key(),
                    subject=Subject(kind="pull_request", number=number),
                    payload={"action": action, "pull_request": {**pull, **extra}},
                )
            )
        return number

    def regress(self) -> EventRecord:
        """Close #1 (if open), make the Sentry issue regress and store its unresolved webhook."""
        if self.github.issue(self.name, 1).state == "open":
            self.github.close_issue(self.name, 1, as_user="alice")
        if self.sentry.issue_state(self.issue_id)["status"] != "resolved":
            self.sentry.resolve(self.issue_id, in_next_release=True)
        self.sentry.regress(self.issue_id)
        body = self.sentry.webhook_body("issue", "unresolved", self.issue_id)
        event = webhook_event("issue", body, str(uuid.uuid4()))
        assert event is not None
        return self.store_event(event)

    def comments(self) -> list[str]:
        """The bodies of #1's comments."""
        return [c.body for c in self.github.issue(self.name, 1).comments]

    def builder_runs(self) -> list[str]:
        """Ids of the builder's runs, queued or not."""
        return [r.id for r in self.store.list_runs(automation="builder", limit=100)]


def make_world(
    github: FakeGitHub,
    sentry: FakeSentry,
    store: RunStore,
    config: FactoryConfig,
    *,
    sentry_policy: SentryPolicy | None = None,
    client: bool = True,
) -> World:
    """Issue #1 filed from a fresh Sentry issue, labelled ready by alice (stored too)."""
    name = f"acme/sentry-loop-{next(_repos)}"
    github.create_repo(name)
    issue_id = sentry.add_issue(release="1.2.0")
    github.create_issue(name, "ZeroDivisionError in calc", f"sentry-issue: {issue_id}", as_user=BOT)
    github.add_labels(name, 1, READY, as_user="alice")
    gh = Github(
        base_url=github.api_url,
        auth=Auth.Token(BOT_TOKEN),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    repo = gh.get_repo(name)
    store.add_link(f"sentry:{issue_id}", "issue:1")
    policy: Policy = config.policy
    if sentry_policy is not None:
        policy = policy.model_copy(update={"sentry": sentry_policy})
    sentry_client = SentryClient(sentry.api_url, sentry.token, sentry.org)
    loop = SentryLoop(store, repo, sentry_client if client else None, lambda: policy, bot_login=BOT)
    dispatcher = Dispatcher(store, lambda: config)
    dispatcher.absorb = absorb_all(loop.absorb)
    world = World(github, sentry, repo, store, loop, dispatcher, issue_id, sentry_client)
    world.store_event(
        Event(
            source="github",
            kind="issues.labeled",
            dedup_key=next_key(),
            subject=Subject(kind="issue", number=1),
            actor="alice",
            trust="maintainers",
            payload={
                "label": {"name": READY},
                "issue": {
                    "title": "ZeroDivisionError in calc",
                    "body": f"sentry-issue: {issue_id}",
                },
            },
        )
    )
    world.tick()  # the maintainer's approval starts the first builder run
    return world


def world_fixture(
    github: FakeGitHub, sentry: FakeSentry, store: RunStore, config: FactoryConfig
) -> World:
    """The default world (resolve on merge, two reopenings)."""
    return make_world(github, sentry, store, config)


def put_calls(sentry: FakeSentry, issue_id: str) -> int:
    """How many PUTs the issue received."""
    return sum(1 for c in sentry.calls if c[0] == "PUT" and c[1].rstrip("/").endswith(issue_id))


def cycle(world: World) -> list[Decision]:
    """Merge a fix, let it regress, and return what the following dispatch decided."""
    world.merge()
    world.tick()
    world.regress()
    world.tick()
    return world.tick()
