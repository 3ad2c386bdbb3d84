"""Shared setup of the Sentry forge tests: FakeSentry, FakeGitHub, a bot, a run context."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from github import Auth, Github
from github.Repository import Repository

from factory.config.outputs_config import Outputs
from factory.crashpoints import CRASH_ENV
from factory.forge.output_requests import RunContext
from factory.sentry.client import SentryClient
from factory.sentry.side import SentrySide
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_sentry import FakeSentry

BOT, BOT_TOKEN = "factory-bot", "t-sentry-bot"
"""The factory's GitHub account in these tests."""
MALLORY, MALLORY_TOKEN = "mallory", "t-mallory"
"""Someone else who may file issues (triage permission)."""
WORKER = Path(__file__).with_name("sentry_crash_worker.py")
_repos = itertools.count(1)


def add_accounts(github: FakeGitHub) -> None:
    """Add the bot (write) and mallory (triage) to ``github``."""
    github.add_user(BOT, token=BOT_TOKEN, permission="write")
    github.add_user(MALLORY, token=MALLORY_TOKEN, permission="triage")


def new_repo(github: FakeGitHub) -> Repository:
    """Make a fresh repository; return it as the bot sees it through PyGithub."""
    name = f"acme/sentry-{next(_repos)}"
    github.create_repo(name)
    return bot_repo(github, name)


def bot_repo(github: FakeGitHub, name: str) -> Repository:
    """Return repository ``name`` as the bot sees it through PyGithub."""
    gh = Github(
        base_url=github.api_url,
        auth=Auth.Token(BOT_TOKEN),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    return gh.get_repo(name)


def sentry_client(sentry: FakeSentry) -> SentryClient:
    """Return the factory's SentryClient against ``sentry``."""
    return SentryClient(sentry.api_url, sentry.token, sentry.org)


def make_context(
    store: RunStore,
    repo: Repository,
    client: SentryClient | None,
    issue_id: str | None,
    outputs: dict[str, Any],
    *,
    from_subject: bool = True,
    subject: int | None = None,
    run_id: str | None = None,
    **kw: Any,
) -> RunContext:
    """Return the context of a run about Sentry issue ``issue_id`` (or linked to it)."""
    key = f"sentry:{issue_id}" if from_subject else (f"issue:{subject}" if subject else None)
    run = run_id or store.create_run("incident-responder", subject_key=key)
    side = SentrySide(client, issue_id, from_subject) if client is not None else None
    spec = Outputs.model_validate(outputs)
    return RunContext(
        run, "incident-responder", spec, subject, repo, store, bot_login=BOT, sentry=side, **kw
    )


@dataclass(frozen=True)
class Crash:
    """One output request for the crash worker."""

    kind: str
    payload: dict[str, Any]
    outputs: dict[str, Any]


def crash(
    sentry: FakeSentry,
    github: FakeGitHub,
    repo: str,
    store: RunStore,
    run_id: str,
    issue_id: str,
    case: Crash,
) -> int:
    """Run the worker with ``output_after_github:KIND`` armed; return its exit code."""
    env = {
        **os.environ,
        CRASH_ENV: f"output_after_github:{case.kind}",
        "FACTORYD_TEST_TOKEN": BOT_TOKEN,
        "FACTORYD_TEST_SENTRY_TOKEN": sentry.token,
    }
    argv = [sentry.api_url, sentry.org, github.api_url, repo, str(store.path), run_id, issue_id]
    argv += [case.kind, json.dumps(case.payload), json.dumps(case.outputs)]
    done = subprocess.run(
        [sys.executable, str(WORKER), *argv], env=env, capture_output=True, text=True, timeout=60
    )
    return done.returncode
