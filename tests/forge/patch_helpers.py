"""Helpers for the patch, pull request and merge tests: real git, FakeGitHub, a test policy."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from github import Auth, Github
from github.Repository import Repository

from factory.config.harness import Policy
from factory.forge.patches import Identity
from factory.testing.fake_github import FakeGitHub
from tests.gitcmd import GIT_ENV, git, write_files

REPO = "acme/widgets"
BOT = "factory-bot"
BOT_TOKEN = "t-bot"
IDENTITY = Identity("factoryd", "factoryd@example.com")
BASE_FILES: dict[str, str | bytes] = {
    "README.md": "# widgets\n",
    "docs/guide.md": "Guide.\n",
    "src/app.py": "print('hi')\n",
    ".github/workflows/ci.yml": "name: ci\n",
}


def make_policy(**overrides: object) -> Policy:
    """Return a policy like harness/policy.yaml's: low tier (docs, tests, md) auto-merges."""
    data: dict[str, object] = {
        "protected_paths": [".github/workflows/**", "harness/**", "**/.env", "**/*.pem"],
        "risk_tiers": {
            "low": {
                "max_changed_lines": 200,
                "max_changed_files": 8,
                "paths": ["docs/**", "tests/**", "**/*.md"],
                "auto_merge": True,
            },
            "medium": {"max_changed_lines": 800, "max_changed_files": 25},
            "high": {},
        },
        "prices": {"m": {"input": 1, "output": 1, "cache_write": 1, "cache_read": 1}},
        **overrides,
    }
    return Policy.model_validate(data)


def clone(url: str, dest: Path, branch: str | None = None) -> Path:
    """Clone ``url`` (optionally one branch) into ``dest``; return ``dest``."""
    extra = ["-b", branch] if branch else []
    git("clone", "-q", *extra, url, str(dest), cwd=dest.parent)
    return dest


@dataclass(frozen=True)
class MadePatch:
    """A patch made by plain ``git diff`` against a base commit."""

    patch: bytes
    base_sha: str


def make_patch(
    url: str,
    work: Path,
    files: Mapping[str, str | bytes | None] = {},
    symlinks: Mapping[str, str] = {},
) -> MadePatch:
    """Clone ``url`` into ``work``, write ``files`` (None deletes) and ``symlinks``, diff.

    Returns the binary patch against the clone's HEAD and that HEAD's sha.
    """
    clone(url, work)
    base = git("rev-parse", "HEAD", cwd=work)
    write_files(work, files)
    for name, target in symlinks.items():
        (work / name).symlink_to(target)
    git("add", "-A", cwd=work)
    patch = subprocess.run(
        ["git", "diff", "--cached", "--binary", "--full-index", "--no-renames", base],
        cwd=work,
        env=GIT_ENV,
        capture_output=True,
        check=True,
    ).stdout
    return MadePatch(patch, base)


@pytest.fixture(name="fake")
def fake_fixture() -> Iterator[FakeGitHub]:
    """A FakeGitHub with acme/widgets, the bot (write), alice (admin) and bob (write)."""
    with FakeGitHub() as gh:
        gh.create_repo(REPO, files=dict(BASE_FILES))
        gh.add_user(BOT, token=BOT_TOKEN, permission="write")
        gh.add_user("alice", token="t-alice", permission="admin")
        gh.add_user("bob", token="t-bob", permission="write")
        gh.add_user("otto", token="t-otto", permission="read")
        yield gh


@pytest.fixture(name="repo")
def repo_fixture(fake: FakeGitHub) -> Repository:
    """acme/widgets through real PyGithub, as the bot."""
    gh = Github(
        base_url=fake.api_url,
        auth=Auth.Token(BOT_TOKEN),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    return gh.get_repo(REPO)
