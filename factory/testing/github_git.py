"""The fake GitHub's git side: one real bare repository per fake repo.

Refs are read from git every time (never copied), so a ``git push`` into the
bare repository is seen by the API at once. Ref writes use ``git update-ref``
with an expected old value, so two racing creations cannot both win.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ZERO_SHA = "0" * 40

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Fake GitHub",
    "GIT_AUTHOR_EMAIL": "noreply@github.invalid",
    "GIT_COMMITTER_NAME": "Fake GitHub",
    "GIT_COMMITTER_EMAIL": "noreply@github.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


class GitCommandError(RuntimeError):
    """A git command run by the fake failed; carries its stderr."""


class MergeConflictError(RuntimeError):
    """The head cannot be merged into the base without conflicts."""


@dataclass(frozen=True)
class FileStat:
    """One changed file between two commits, as ``git diff --numstat``/``--name-status`` say."""

    filename: str
    status: str
    additions: int
    deletions: int
    previous_filename: str | None = None


class BareRepo:
    """A bare git repository on disk, driven with the git command line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(
        cls, path: Path, files: dict[str, str | bytes], default_branch: str, message: str
    ) -> BareRepo:
        """Make a bare repo at ``path`` whose ``default_branch`` holds ``files`` in one commit.

        Returns the repo; raises GitCommandError if git fails.
        """
        path.mkdir(parents=True)
        repo = cls(path)
        repo.git("init", "--bare", "-q", f"--initial-branch={default_branch}")
        if files:
            repo.commit_files(default_branch, files, message)
        return repo

    def git(self, *args: str, input_bytes: bytes | None = None, check: bool = True) -> str:
        """Run git against this repository and return its stdout (stripped).

        Raises GitCommandError when git exits non-zero and ``check`` is true.
        """
        env = {**os.environ, **_GIT_ENV}
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path), *args],
            input=input_bytes,
            capture_output=True,
            env=env,
            check=False,
        )
        if check and proc.returncode != 0:
            raise GitCommandError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode(errors="replace").strip()

    def commit_files(self, branch: str, files: dict[str, str | bytes], message: str) -> str:
        """Commit ``files`` (path -> content) on top of ``branch`` (created if absent).

        Returns the new commit sha; raises GitCommandError on failure.
        """
        parent = self.resolve(f"refs/heads/{branch}")
        with tempfile.TemporaryDirectory(prefix="fakegh-tree-") as tmp:
            index = Path(tmp) / "index"
            env_index = {"GIT_INDEX_FILE": str(index)}
            if parent:
                self._git_env(env_index, "read-tree", parent)
            for name, content in sorted(files.items()):
                data = content.encode() if isinstance(content, str) else content
                blob = self.git("hash-object", "-w", "--stdin", input_bytes=data)
                self._git_env(
                    env_index, "update-index", "--add", "--cacheinfo", "100644", blob, name
                )
            tree = self._git_env(env_index, "write-tree")
        parents = ["-p", parent] if parent else []
        sha = self.git("commit-tree", tree, *parents, "-m", message)
        self.git("update-ref", f"refs/heads/{branch}", sha, parent or ZERO_SHA)
        return sha

    def _git_env(self, extra: dict[str, str], *args: str) -> str:
        env = {**os.environ, **_GIT_ENV, **extra}
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path), *args], capture_output=True, env=env, check=False
        )
        if proc.returncode != 0:
            raise GitCommandError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode().strip()

    def resolve(self, ref: str) -> str | None:
        """Return the commit sha ``ref`` names, or None when it names no commit."""
        out = self.git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
        return out or None

    def object_type(self, sha: str) -> str | None:
        """Return the git object type of ``sha`` ("commit", "tree"...) or None if absent."""
        out = self.git("cat-file", "-t", sha, check=False)
        return out or None

    def refs(self, prefix: str = "refs/") -> list[tuple[str, str]]:
        """Return (refname, sha) for every ref under ``prefix``, sorted by name."""
        out = self.git("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        pairs = [tuple(line.split(" ", 1)) for line in out.splitlines() if line]
        return sorted((name, sha) for name, sha in pairs)

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, **_GIT_ENV}
        return subprocess.run(
            ["git", "--git-dir", str(self.path), *args], capture_output=True, env=env, check=False
        )

    def create_ref(self, ref: str, sha: str) -> bool:
        """Create ``ref`` at ``sha`` with expected old value zero; True iff this call created it."""
        return self._run("update-ref", ref, sha, ZERO_SHA).returncode == 0

    def set_ref(self, ref: str, sha: str, old: str | None = None) -> bool:
        """Point ``ref`` at ``sha`` (only if it is at ``old`` when given); True on success."""
        args = ["update-ref", ref, sha] + ([old] if old else [])
        return self._run(*args).returncode == 0

    def delete_ref(self, ref: str) -> bool:
        """Delete ``ref``; True if it existed and was deleted."""
        current = self._run("rev-parse", "--verify", "-q", ref).stdout.decode().strip()
        if not current:
            return False
        return self._run("update-ref", "-d", ref, current).returncode == 0

    def is_ancestor(self, older: str, newer: str) -> bool:
        """True when ``older`` is an ancestor of (or equal to) ``newer``."""
        return self._run("merge-base", "--is-ancestor", older, newer).returncode == 0

    def diff(self, base: str, head: str) -> str:
        """Return the unified diff of ``head`` against its merge base with ``base``."""
        return self.git("diff", "--no-color", "--no-ext-diff", f"{base}...{head}") + "\n"

    def file_stats(self, base: str, head: str) -> list[FileStat]:
        """Return per-file change stats of ``head`` against its merge base with ``base``."""
        rng = f"{base}...{head}"
        numstat = self.git("diff", "--numstat", "-M", rng).splitlines()
        names = self.git("diff", "--name-status", "-M", rng).splitlines()
        stats: list[FileStat] = []
        for num_line, name_line in zip(numstat, names, strict=True):
            added, deleted, _ = num_line.split("\t", 2)
            parts = name_line.split("\t")
            code = parts[0][0]
            status = {"A": "added", "D": "removed", "M": "modified", "R": "renamed"}.get(
                code, "changed"
            )
            previous = parts[1] if code == "R" else None
            stats.append(
                FileStat(
                    filename=parts[-1],
                    status=status,
                    additions=int(added) if added != "-" else 0,
                    deletions=int(deleted) if deleted != "-" else 0,
                    previous_filename=previous,
                )
            )
        return stats

    def merge_tree(self, base: str, head: str) -> str:
        """Return the tree of merging ``head`` into ``base``; raises MergeConflictError if any."""
        proc = self._run("merge-tree", "--write-tree", base, head)
        if proc.returncode != 0:
            raise MergeConflictError(f"{head} does not merge cleanly into {base}")
        return proc.stdout.decode().splitlines()[0].strip()

    def merge(self, branch: str, head: str, method: str, message: str) -> str:
        """Merge commit ``head`` into ``branch`` ("merge" or "squash"); return the new sha.

        Raises MergeConflictError when the merge conflicts or the branch moved meanwhile.
        """
        base = self.resolve(f"refs/heads/{branch}")
        if base is None:
            raise MergeConflictError(f"base branch {branch} does not exist")
        tree = self.merge_tree(base, head)
        parents = ["-p", base, "-p", head] if method == "merge" else ["-p", base]
        sha = self.git("commit-tree", tree, *parents, "-m", message)
        if not self.set_ref(f"refs/heads/{branch}", sha, base):
            raise MergeConflictError(f"base branch {branch} moved during the merge")
        return sha

    def commit_info(self, sha: str) -> dict[str, str]:
        """Return message, author name/email/date and tree of commit ``sha``."""
        out = self.git("show", "-s", "--format=%T%x00%an%x00%ae%x00%aI%x00%B", sha)
        tree, name, email, date, message = out.split("\x00", 4)
        return {"tree": tree, "name": name, "email": email, "date": date, "message": message}
