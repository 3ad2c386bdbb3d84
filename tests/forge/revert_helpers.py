"""Helpers for the revert_pull_request tests: FakeGitHub, a merged factory PR, the gate."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from github import Auth, Github
from github.Repository import Repository

from factory.config.harness import Policy
from factory.config.outputs_config import Outputs
from factory.forge.output_performers import BUILTIN_PERFORMERS
from factory.forge.output_requests import RunContext
from factory.forge.outputs import OutputGate
from factory.forge.pr_output import PullRequestSide
from factory.forge.revert_output import revert_performer
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from factory.workspace import Mirror
from tests.forge.patch_helpers import make_policy

BOT, BOT_TOKEN = "factory-bot", "t-bot"
OUTPUTS: dict[str, Any] = {"create_issue": {}, "revert_pull_request": {"labels": ["revert"]}}
_names = itertools.count(1)


def add_accounts(fake: FakeGitHub) -> None:
    """The bot (write) and alice (admin)."""
    fake.add_user(BOT, token=BOT_TOKEN, permission="write")
    fake.add_user("alice", token="t-alice", permission="admin")


def client(fake: FakeGitHub, token: str = BOT_TOKEN) -> Github:
    """Real PyGithub against the fake."""
    return client_url(fake.api_url, token)


def client_url(api_url: str, token: str) -> Github:
    """Real PyGithub against the API at ``api_url``."""
    return Github(
        base_url=api_url,
        auth=Auth.Token(token),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


@dataclass(frozen=True)
class World:
    """A repository with a merged pull request #N."""

    name: str
    repo: Repository
    number: int


def merged_world(
    fake: FakeGitHub,
    *,
    author: str = BOT,
    merger: str = BOT,
    method: str = "merge",
    merge: bool = True,
) -> World:
    """A fresh repository whose pull request (by ``author``) ``merger`` merged."""
    name = f"acme/revert-{next(_names)}"
    fake.create_repo(name, files={"README.md": "# widgets\n", "src/app.py": "print('hi')\n"})
    git = fake.repo(name).git
    git.create_ref("refs/heads/feature", str(git.resolve("refs/heads/main")))
    fake.commit_files(name, "feature", {"src/app.py": "print('broken')\n"}, "Break the app")
    pr = fake.create_pull(name, "feature", "Change the greeting", "Closes nothing.", as_user=author)
    tokens = {BOT: BOT_TOKEN, "alice": "t-alice"}
    if merge:
        client(fake, tokens[merger]).get_repo(name).get_pull(pr.number).merge(merge_method=method)
    return World(name, client(fake).get_repo(name), pr.number)


def context(
    world: World, store: RunStore, outputs: dict[str, Any] | None = None, run_id: str = ""
) -> RunContext:
    """The verifier run's context (bot login known)."""
    return RunContext(
        run_id or store.create_run("post-merge-verifier"),
        "post-merge-verifier",
        Outputs.model_validate(outputs or OUTPUTS),
        None,
        world.repo,
        store,
        secrets=("s3cr3t-canary",),
        bot_login=BOT,
    )


TIERS = {
    "low": {
        "max_changed_lines": 200,
        "paths": ["docs/**"],
        "auto_merge": True,
        "label": "risk:low",
    },
    "medium": {"max_changed_lines": 800, "label": "risk:medium"},
    "high": {"needs_human": True, "label": "risk:high"},
}


def policy(**verifier: bool) -> Policy:
    """A policy whose tiers carry labels, with the ``verifier:`` settings given."""
    return make_policy(risk_tiers=TIERS, verifier=verifier)


def gate(
    fake: FakeGitHub, world: World, data_dir: Path, policy_: Policy | None = None
) -> OutputGate:
    """The gate with the built-in performers and the revert performer on a fresh mirror."""
    return gate_at(world.name, fake.clone_url(world.name), data_dir, policy_)


def gate_at(name: str, clone_url: str, data_dir: Path, policy_: Policy | None = None) -> OutputGate:
    """The gate of ``gate`` for the repository ``name`` cloned from ``clone_url``."""
    side = PullRequestSide(
        workspace=None,
        sandbox=None,
        mirror=Mirror(data_dir, name, clone_url),
        policy=policy_ or policy(),
        data_dir=data_dir,
        subject_slug="commit",
        open_config=None,
        merge_config=None,
    )
    return OutputGate({**BUILTIN_PERFORMERS, "revert_pull_request": revert_performer(side)})


def reverts(fake: FakeGitHub, world: World) -> list[int]:
    """Numbers of the pull requests from a factory/revert-… branch."""
    return [
        n
        for n, pr in sorted(fake.repo(world.name).pulls.items())
        if pr.head_ref.startswith("factory/revert-")
    ]
