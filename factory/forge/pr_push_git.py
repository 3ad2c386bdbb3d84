"""The git half of ``push_to_pull_request``: the agent's patch as a commit on a PR's head.

Same discipline as ``factory.forge.patches.apply_patch`` (and its helpers): a fresh
``--no-checkout`` clone of the mirror the daemon alone wrote, the patch applied to the index
only, the staged change checked against the patch policy, a commit made with
``commit-tree``. What differs:

* the parent is the pull request's head the run started from (not the default branch), and
  the push is a fast-forward guarded by ``--force-with-lease=<ref>:<that head>``: if the
  branch moved meanwhile, nothing is pushed (the request is stale);
* the commit carries a ``Factory-Output: <idempotency key>`` trailer, so a retry after a
  crash finds the commit it already pushed (``find_pushed``) and never pushes twice.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import structlog

from factory.config.harness import Policy
from factory.errors import GitError, OutputFailed, OutputRefused
from factory.forge.patch_policy import ChangedFile, PatchLimits, check_staged, precheck
from factory.forge.patches import Identity, _apply, _clone, _staged, clean_message
from factory.forge.sanitize import _MENTION_RE
from factory.workspace import Mirror
from factory.workspace.gitutil import git_out, run_git

log = structlog.get_logger(__name__)

TRAILER = "Factory-Output"
"""The trailer naming the output's idempotency key in every pushed commit."""
FIND_DEPTH = 50
"""How many commits of the head branch a lookup reads for the trailer."""
PUSH_ARGS = ("push", "--quiet", "--no-verify")
FETCH_ARGS = ("fetch", "--quiet", "--no-tags")


@dataclass(frozen=True)
class PushedCommit:
    """A commit on a pull request's head branch, made by ``push_onto``."""

    branch: str
    """The head branch (``factory/…``)."""
    sha: str
    """The new head commit."""
    parent: str
    """The head it was made on."""
    files: tuple[ChangedFile, ...] = ()
    """What it changes."""


def commit_message(message: str, run_id: str, key: str) -> str:
    """Return the sanitized commit message with the ``Factory-Run`` and output trailers.

    ``clean_message`` drops invisible code points, the zero-width space that
    ``neutralize_mentions`` puts after an ``@`` among them; a mention is broken here with a
    visible ``@ `` instead, so nobody is pinged from the commit.
    """
    text = _MENTION_RE.sub(lambda m: f"@ {m['name']}", clean_message(message, run_id))
    return f"{text.rstrip()}\n{TRAILER}: {key}\n"


def remote_head(url: str, branch: str, auth_header: str | None) -> str | None:
    """Return the sha ``branch`` points at on ``url``, or None when there is no such branch."""
    proc = run_git(
        ["ls-remote", "--", url, f"refs/heads/{branch}"],
        auth_header=auth_header,
        allow_file_protocol=True,
    )
    sha = proc.stdout.decode().split("\t", 1)[0].strip()
    return sha or None


def find_pushed(
    url: str, branch: str, key: str, *, scratch: Path, auth_header: str | None
) -> str | None:
    """Return the commit of ``branch`` (last ``FIND_DEPTH``) whose trailer names ``key``."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.parent.mkdir(parents=True, exist_ok=True)
    try:
        run_git(["init", "--bare", "--quiet", str(scratch)])
        proc = run_git(
            [*FETCH_ARGS, f"--depth={FIND_DEPTH}", "--", url, f"refs/heads/{branch}"],
            cwd=scratch,
            auth_header=auth_header,
            allow_file_protocol=True,
            check=False,
        )
        if proc.returncode != 0:
            return None  # no such branch (deleted): nothing was pushed there to find
        log_text = git_out(
            ["log", f"-n{FIND_DEPTH}", "--format=%H%x1f%B%x1e", "FETCH_HEAD"], cwd=scratch
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    wanted = f"{TRAILER}: {key}"
    for entry in log_text.split("\x1e"):
        sha, _, body = entry.strip().partition("\x1f")
        if wanted in (line.strip() for line in body.splitlines()):
            return sha
    return None


def push_onto(
    patch: bytes,
    *,
    mirror: Mirror,
    branch: str,
    head_sha: str,
    message: str,
    key: str,
    identity: Identity,
    policy: Policy,
    data_dir: Path,
    run_id: str,
    auth_header: str | None,
    limits: PatchLimits | None = None,
) -> PushedCommit:
    """Commit ``patch`` on ``head_sha`` and fast-forward ``branch`` on the remote to it.

    Raises PatchRefused when the patch breaks policy or does not apply, OutputRefused when
    the branch no longer points at ``head_sha`` (stale), OutputFailed when the push fails.
    """
    limits = limits or PatchLimits()
    url = mirror.remote_url
    clone = Path(data_dir) / "patches" / f"{run_id}-push"
    shutil.rmtree(clone, ignore_errors=True)
    clone.parent.mkdir(parents=True, exist_ok=True)
    try:
        precheck(patch, policy, limits, run_id)
        _clone(mirror, clone, head_sha, run_id, auth_header)
        _apply(clone, patch, run_id)
        files = _staged(clone, head_sha)
        check_staged(files, policy, limits, run_id)
        tree = git_out(["write-tree"], cwd=clone)
        sha = commit_tree(clone, tree, [head_sha], commit_message(message, run_id, key), identity)
        leased_push(clone, url, branch, head_sha, sha, auth_header, run_id)
    finally:
        shutil.rmtree(clone, ignore_errors=True)
    log.info("pr_push_pushed", run_id=run_id, branch=branch, sha=sha, files=len(files))
    return PushedCommit(branch, sha, head_sha, tuple(files))


def commit_tree(
    clone: Path, tree: str, parents: list[str], message: str, identity: Identity
) -> str:
    """Return the sha of a new commit of ``tree`` on ``parents`` by ``identity``."""
    args = ["commit-tree", tree, *[a for p in parents for a in ("-p", p)], "-F", "-"]
    config = {"user.name": identity.name, "user.email": identity.email}
    out = run_git(args, cwd=clone, input=message.encode(), config=config)
    return out.stdout.decode().strip()


def leased_push(
    clone: Path,
    url: str,
    branch: str,
    head_sha: str,
    sha: str,
    auth_header: str | None,
    run_id: str,
) -> None:
    """Push ``sha`` onto ``branch`` only while its head is still ``head_sha`` (checked, then
    leased). Raises OutputRefused (the head moved) or OutputFailed (the push failed)."""
    current = remote_head(url, branch, auth_header)
    if current != head_sha:
        raise OutputRefused(stale_reason(branch, head_sha, current))
    ref = f"refs/heads/{branch}"
    try:
        run_git(
            [*PUSH_ARGS, f"--force-with-lease={ref}:{head_sha}", "--", url, f"{sha}:{ref}"],
            cwd=clone,
            auth_header=auth_header,
            allow_file_protocol=True,
        )
    except GitError as exc:
        raise OutputFailed(f"push_to_pull_request: run {run_id}: push failed: {exc}") from None


def stale_reason(branch: str, started: str, now: str | None) -> str:
    """Return the refusal of a push whose branch moved since the run started."""
    where = f"is now at {now[:12]}" if now else "is gone"
    return (
        f"push_to_pull_request: stale: {branch} {where}, the run started from {started[:12]};"
        " nothing was pushed (a new run will start from the new head)"
    )
