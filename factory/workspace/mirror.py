"""The local bare mirror of the target repository, fetched before each run.

The mirror lives at ``<data>/mirrors/<owner>__<name>.git``. It is only ever touched by
host git through ``factory.workspace.gitutil.run_git``; no agent can write it (workspaces are
self-contained copies, see ``factory.workspace.checkout``).

The remote URL is stored in the mirror's config; a credential never is: it travels as an
``http.extraHeader`` in the git process's environment. Fetches hold an exclusive
``flock`` on ``<slug>.lock`` next to the mirror; copies made from it hold a shared one.
"""

from __future__ import annotations

import fcntl
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import structlog

from factory.errors import GitError, WorkspaceError
from factory.workspace.gitutil import git_out, run_git

log = structlog.get_logger(__name__)

FETCH_REFSPECS = (
    "+refs/heads/*:refs/heads/*",
    "+refs/tags/*:refs/tags/*",
    "+refs/pull/*/head:refs/pull/*/head",
)
"""What a fetch brings in: every branch, tag and pull request head (not ``/merge``)."""

_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SHA_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")

AuthHeader = str | Callable[[], str | None] | None
"""A fixed ``http.extraHeader`` value, a callable returning a fresh one, or none."""


def pull_ref(number: int) -> str:
    """Return the ref of pull request ``number``'s head, e.g. ``refs/pull/7/head``.

    Raises ValueError if ``number`` is not positive.
    """
    if number <= 0:
        raise ValueError(f"pull request number must be positive, got {number}")
    return f"refs/pull/{number}/head"


def ref_for_mode(mode: str, *, pull_number: int | None = None) -> str | None:
    """Return the ref to check out for an automation's ``workspace:`` mode.

    ``"default-branch"`` gives ``None`` (the mirror's default branch); ``"pull-request"``
    gives ``refs/pull/<pull_number>/head``. Raises ValueError for another mode (``"none"``
    has no workspace) or a pull-request mode without a positive ``pull_number``.
    """
    if mode == "default-branch":
        return None
    if mode == "pull-request":
        if pull_number is None:
            raise ValueError("workspace mode pull-request needs the pull request number")
        return pull_ref(pull_number)
    raise ValueError(f"workspace mode {mode!r} does not check anything out")


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme in {"http", "https"} and (parts.password or parts.username):
        raise ValueError(
            "the remote URL must not carry credentials; pass auth_header instead "
            "so the token never lands in .git/config"
        )
    if url.startswith("-") or "\n" in url:
        raise ValueError(f"{url!r} is not a usable remote URL")


class Mirror:
    """A bare mirror of one remote repository under ``<data_dir>/mirrors``."""

    def __init__(
        self, data_dir: Path, repo: str, remote_url: str, *, auth_header: AuthHeader = None
    ) -> None:
        """Describe the mirror of ``repo`` ("owner/name") cloned from ``remote_url``.

        Nothing is cloned until ``fetch()``. Raises ValueError if ``repo`` is not
        "owner/name" or ``remote_url`` embeds credentials.
        """
        if not _REPO_RE.match(repo) or ".." in repo:
            raise ValueError(f"repository {repo!r} is not of the form owner/name")
        _check_url(remote_url)
        self.repo = repo
        self.remote_url = remote_url
        self._auth_header = auth_header
        slug = repo.replace("/", "__")
        self.root = Path(data_dir) / "mirrors"
        self.path = self.root / f"{slug}.git"
        self._lock_path = self.root / f"{slug}.lock"

    def __repr__(self) -> str:
        return f"Mirror(repo={self.repo!r}, path={str(self.path)!r})"

    def _header(self) -> str | None:
        if callable(self._auth_header):
            return self._auth_header()
        return self._auth_header

    @contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @contextmanager
    def reading(self) -> Iterator[Path]:
        """Hold a shared lock (no fetch runs meanwhile) and yield the mirror's path.

        Raises WorkspaceError if the mirror was never fetched.
        """
        with self._locked(exclusive=False):
            if not self.exists():
                raise WorkspaceError(f"mirror of {self.repo} does not exist yet; fetch() first")
            yield self.path

    def exists(self) -> bool:
        """Return True once the mirror has been cloned."""
        return (self.path / "HEAD").is_file()

    def fetch(self) -> None:
        """Clone the mirror if it is missing, then fetch branches, tags and PR heads.

        Refs deleted on the remote are pruned. Raises GitError if git fails (the
        credential is never part of the message).
        """
        header = self._header()
        with self._locked(exclusive=True):
            if not self.exists():
                self._clone(header)
            run_git(
                ["fetch", "--prune", "--quiet", "--no-write-fetch-head", "origin", *FETCH_REFSPECS],
                cwd=self.path,
                auth_header=header,
            )
        log.info("mirror_fetched", repo=self.repo)

    def _clone(self, header: str | None) -> None:
        # Clone beside the final path, then rename: a crash never leaves a half mirror
        # (only a temporary directory, removed here by the next clone attempt).
        for stale in self.root.glob(f".{self.path.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.tmp-", dir=self.root))
        try:
            run_git(
                ["clone", "--bare", "--quiet", "--", self.remote_url, str(tmp / "m.git")],
                auth_header=header,
            )
            run_git(["config", "gc.autoDetach", "false"], cwd=tmp / "m.git")
            (tmp / "m.git").rename(self.path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        log.info("mirror_cloned", repo=self.repo)

    def default_branch(self) -> str:
        """Return the full ref of the default branch (the remote's HEAD when cloned).

        Raises GitError if the mirror has no HEAD branch.
        """
        with self.reading() as path:
            return git_out(["symbolic-ref", "HEAD"], cwd=path)

    def resolve(self, ref: str | None = None) -> tuple[str, str]:
        """Return ``(full ref, commit sha)`` for ``ref`` (a branch, full ref, PR ref or sha).

        ``None`` means the default branch. Raises WorkspaceError if the ref is malformed,
        does not exist in the mirror or is not a commit.
        """
        if ref is not None and (
            not ref or ref.startswith("-") or any(c in ref for c in "\n\0 ~^:?*[\\")
        ):
            raise WorkspaceError(f"{ref!r} is not a valid ref for {self.repo}")
        with self.reading() as path:
            if ref is None:
                ref = git_out(["symbolic-ref", "HEAD"], cwd=path)
            try:
                full = git_out(["rev-parse", "--symbolic-full-name", ref], cwd=path)
                sha = git_out(
                    ["rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}"], cwd=path
                )
            except GitError as exc:
                raise WorkspaceError(f"ref {ref!r} not found in mirror of {self.repo}") from exc
        if not _SHA_RE.match(sha):
            raise WorkspaceError(f"ref {ref!r} of {self.repo} resolved to {sha!r}, not a commit")
        return (full or ref), sha
