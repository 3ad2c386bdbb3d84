"""Helpers for the workspace tests: a real bare "remote" repository and the real sandbox."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from factory.workspace import Mirror, Workspaces
from tests.gitcmd import GIT_ENV, git, write_files

__all__ = ["GIT_ENV", "git"]  # re-exported for the workspace tests


@dataclass
class Remote:
    """A bare repository standing in for GitHub, plus a working clone to push from."""

    bare: Path
    work: Path
    shas: dict[str, str] = field(default_factory=dict)

    def commit(self, files: Mapping[str, str | bytes | None], message: str, branch: str) -> str:
        """Commit ``files`` (None deletes) on ``branch`` and push it; return the new sha."""
        git("checkout", "-q", "-B", branch, cwd=self.work)
        write_files(self.work, files)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", message, cwd=self.work)
        sha = git("rev-parse", "HEAD", cwd=self.work)
        git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=self.work)
        return sha

    def push_ref(self, sha: str, ref: str) -> None:
        """Point ``ref`` in the remote at ``sha`` (e.g. a pull request head)."""
        git("push", "-q", "-f", "origin", f"{sha}:{ref}", cwd=self.work)


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    """A bare remote with two commits on main, a feature branch and ``refs/pull/1/head``."""
    bare = tmp_path / "remote.git"
    work = tmp_path / "remote-work"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("clone", "-q", str(bare), str(work), cwd=tmp_path)
    r = Remote(bare=bare, work=work)
    r.shas["first"] = r.commit(
        {"README.md": "hello\n", "src/app.py": "print('v1')\n", "docs/old.txt": "old\n"},
        "first",
        "main",
    )
    r.shas["main"] = r.commit({"src/app.py": "print('v2')\n"}, "second", "main")
    r.shas["feature"] = r.commit({"feature.txt": "feature\n"}, "feature work", "feature")
    r.shas["pr1"] = r.commit({"pr.txt": "from the PR\n"}, "pr work", "pr-branch")
    r.push_ref(r.shas["pr1"], "refs/pull/1/head")
    git("push", "-q", "origin", "--delete", "pr-branch", cwd=work)
    git("checkout", "-q", "main", cwd=work)
    return r


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The daemon's data directory for one test."""
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def mirror(data: Path, remote: Remote) -> Mirror:
    """A fetched mirror of ``remote``."""
    m = Mirror(data, "acme/widgets", str(remote.bare))
    m.fetch()
    return m


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make_workspaces(data: Path, mirror: Mirror) -> Callable[..., Workspaces]:
    """Build a ``Workspaces`` over the test mirror with the given keyword arguments."""

    def make(**kwargs: object) -> Workspaces:
        return Workspaces(data, mirror, **kwargs)  # type: ignore[arg-type]

    return make
