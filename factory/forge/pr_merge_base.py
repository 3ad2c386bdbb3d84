"""The daemon merges a factory pull request's base into its head (merge conflicts, part 1).

``merge_base_into`` works in a fresh ``--no-checkout`` clone of the mirror, with the hardened
git of ``factory.workspace.gitutil``, and never runs an agent: ``git merge-tree --write-tree``
merges the two commits without a working tree. When they merge cleanly the daemon commits
the merge (parents: the head, then the base) and fast-forwards the head branch with a lease
on the head it merged (``--force-with-lease``: a branch that moved meanwhile is left alone,
the outcome says ``stale``). When they conflict nothing is pushed and the outcome lists the
conflicted files — what an agent would be given to resolve.

Only ``factory/`` branches are merged into (callers check the pull request is the factory's
with ``factory.forge.pr_push.ownership_refusal`` first).

Called by ``factory.daemon.conflicts`` when the base moves under a factory pull request.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import structlog

from factory.errors import GitError
from factory.forge.patches import Identity, _clone
from factory.forge.pr_push_git import PUSH_ARGS, TRAILER, remote_head
from factory.workspace import Mirror
from factory.workspace.gitutil import git_out, run_git

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class MergeOutcome:
    """What merging the base into a head gave."""

    status: str
    """``merged`` (pushed), ``up_to_date`` (the base is in the head already), ``conflicts``
    (nothing pushed) or ``stale`` (the branch moved; nothing pushed)."""
    sha: str | None = None
    """The merge commit pushed (``merged``)."""
    conflicts: tuple[str, ...] = ()
    """The conflicted paths (``conflicts``)."""


def merge_base_into(
    *,
    mirror: Mirror,
    branch: str,
    head_sha: str,
    base_ref: str,
    identity: Identity,
    data_dir: Path,
    run_id: str,
    auth_header: str | None,
    key: str | None = None,
) -> MergeOutcome:
    """Merge ``base_ref`` (a branch of the mirror) into ``head_sha`` and push it to ``branch``.

    ``key``, when given, is written as the ``Factory-Output`` trailer of the merge commit, so
    a retry after a crash finds it (``factory.forge.pr_push_git.find_pushed``).
    Raises ValueError for a branch outside ``factory/``; GitError when git fails otherwise.
    """
    if not branch.startswith("factory/"):
        raise ValueError(f"{branch!r} is not a factory/ branch: the daemon merges into none other")
    clone = Path(data_dir) / "patches" / f"{run_id}-merge"
    shutil.rmtree(clone, ignore_errors=True)
    clone.parent.mkdir(parents=True, exist_ok=True)
    try:
        _clone(mirror, clone, head_sha, run_id, auth_header)
        base = git_out(
            ["rev-parse", "--verify", f"refs/remotes/origin/{base_ref}^{{commit}}"], cwd=clone
        )
        ancestor = run_git(["merge-base", "--is-ancestor", base, head_sha], cwd=clone, check=False)
        if ancestor.returncode == 0:
            return MergeOutcome("up_to_date")
        proc = run_git(
            ["merge-tree", "--write-tree", "--name-only", "--no-messages", head_sha, base],
            cwd=clone,
            check=False,
        )
        lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
        if proc.returncode == 1:
            conflicts = tuple(dict.fromkeys(line for line in lines[1:] if line))
            log.info("merge_base_conflicts", run_id=run_id, branch=branch, files=len(conflicts))
            return MergeOutcome("conflicts", conflicts=conflicts)
        if proc.returncode != 0 or not lines:
            raise GitError("merge-tree", proc.returncode, proc.stderr.decode("utf-8", "replace"))
        message = f"Merge {base_ref} into {branch}\n\nFactory-Run: {run_id}\n"
        message += f"{TRAILER}: {key}\n" if key else ""
        sha = (
            run_git(
                ["commit-tree", lines[0], "-p", head_sha, "-p", base, "-F", "-"],
                cwd=clone,
                input=message.encode(),
                config={"user.name": identity.name, "user.email": identity.email},
            )
            .stdout.decode()
            .strip()
        )
        url = mirror.remote_url
        if remote_head(url, branch, auth_header) != head_sha:
            return MergeOutcome("stale")
        ref = f"refs/heads/{branch}"
        run_git(
            [*PUSH_ARGS, f"--force-with-lease={ref}:{head_sha}", "--", url, f"{sha}:{ref}"],
            cwd=clone,
            auth_header=auth_header,
            allow_file_protocol=True,
        )
    finally:
        shutil.rmtree(clone, ignore_errors=True)
    log.info("merge_base_pushed", run_id=run_id, branch=branch, sha=sha)
    return MergeOutcome("merged", sha=sha)
