"""A pull request world for the push_to_pull_request tests: FakeGitHub, a real mirror, a real
store, the run's pull-request workspace and the real bubblewrap sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from github import Auth, Github

from factory.config.outputs_config import Outputs
from factory.forge.output_performers import BUILTIN_PERFORMERS
from factory.forge.output_requests import RunContext
from factory.forge.outputs import OutputDecision, OutputGate
from factory.forge.pr_output import PullRequestSide
from factory.forge.pr_push_perform import push_performers
from factory.interfaces import Sandbox
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from factory.workspace import Mirror, Workspace, Workspaces, pull_ref

from .patch_helpers import BOT, BOT_TOKEN, IDENTITY, REPO, make_policy

BRANCH = "factory/issue-1-abcd1234"
OUTPUTS: dict[str, Any] = {"push_to_pull_request": {"max": 1}}
FIX = {"message": "Fix the greeting", "summary": "The greeting test failed; fixed it."}


def open_pull(
    fake: FakeGitHub, *, author: str = BOT, branch: str = BRANCH, fork: str | None = None
) -> int:
    """Open a pull request from ``branch`` (made off main with one broken commit) by ``author``;
    ``fork`` makes its head come from that fork. Returns its number."""
    git = fake.repo(REPO).git
    main = git.resolve("refs/heads/main")
    assert main is not None
    git.create_ref(f"refs/heads/{branch}", main)
    fake.commit_files(REPO, branch, {"src/app.py": "print('hi'\n"}, "Change the greeting")
    number = fake.create_pull(
        REPO, branch, "Change the greeting", "Fixes #1", as_user=author
    ).number
    if fork:
        fake.pull(REPO, number).head_fork = fork
    return number


@dataclass
class World:
    """One shepherd run on one pull request."""

    fake: FakeGitHub
    data: Path
    mirror: Mirror
    store: RunStore
    number: int
    sandbox: Sandbox

    def head(self) -> str:
        """Return the pull request's head branch sha on FakeGitHub."""
        sha = self.fake.repo(REPO).git.resolve(
            f"refs/heads/{self.fake.pull(REPO, self.number).head_ref}"
        )
        assert sha is not None
        return sha

    def new_run(self, run_id: str | None = None) -> str:
        """Record a new shepherd run on the pull request; return its id."""
        return self.store.create_run("pr-shepherd", subject_key=f"pull_request:{self.number}")

    def workspace(self, run_id: str, files: dict[str, str] | None = None) -> Workspace:
        """Check out the pull request's head for ``run_id`` and write ``files`` into it."""
        # The daemon reads the pull request (its snapshot) before it checks the head out;
        # FakeGitHub moves refs/pull/N/head to a pushed branch on such a read.
        self.context(run_id).repo.get_pull(self.number)
        self.mirror.fetch()
        ws = Workspaces(self.data, self.mirror).prepare(run_id, pull_ref(self.number))
        for name, text in (files if files is not None else {"src/app.py": "print('hi')\n"}).items():
            (ws.path / name).parent.mkdir(parents=True, exist_ok=True)
            (ws.path / name).write_text(text)
        return ws

    def context(self, run_id: str, outputs: dict[str, Any] | None = None) -> RunContext:
        """Return the run's output context, as the bot, with the pull request as subject."""
        gh = Github(
            base_url=self.fake.api_url,
            auth=Auth.Token(BOT_TOKEN),
            retry=None,
            seconds_between_requests=0,
            seconds_between_writes=0,
        )
        spec = Outputs.model_validate(outputs or OUTPUTS)
        repo = gh.get_repo(REPO)
        return RunContext(run_id, "pr-shepherd", spec, self.number, repo, self.store, bot_login=BOT)

    def gate(
        self, workspace: Workspace | None, outputs: dict[str, Any] | None = None
    ) -> OutputGate:
        """Return the gate with the built-in performers and the push performer."""
        side = PullRequestSide(
            workspace=workspace,
            sandbox=self.sandbox,
            mirror=self.mirror,
            policy=make_policy(),
            data_dir=self.data,
            subject_slug=f"pull_request-{self.number}",
            open_config=None,
            merge_config=None,
            identity=IDENTITY,
        )
        spec = Outputs.model_validate(outputs or OUTPUTS)
        return OutputGate(
            {**BUILTIN_PERFORMERS, **push_performers(side, spec.push_to_pull_request)}
        )

    def push(
        self,
        files: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
        outputs: dict[str, Any] | None = None,
    ) -> OutputDecision:
        """Run one new shepherd run that writes ``files`` and asks for one push."""
        run_id = self.new_run()
        ws = self.workspace(run_id, files)
        return self.gate(ws, outputs).request(
            self.context(run_id, outputs), "push_to_pull_request", payload or FIX
        )

    def comments(self) -> list[str]:
        """Return the pull request's comment bodies, oldest first."""
        return [c.body for c in self.fake.issue(REPO, self.number).comments]


def make_world(
    fake: FakeGitHub, tmp_path: Path, store: RunStore, sandbox: Sandbox, number: int
) -> World:
    """Return the world of pull request ``number`` with its data directory under tmp_path."""
    data = tmp_path / "data"
    return World(fake, data, Mirror(data, REPO, fake.clone_url(REPO)), store, number, sandbox)
