"""A run's workspace that holds a conflicted merge of the base into a pull request's head.

Made right after ``Workspaces.prepare`` checked out the head, before any agent sees the
checkout (host git may still run there, see ``factory.workspace.checkout``). ``git
merge-tree --write-tree`` writes the merged tree with conflict markers in the conflicted
files; the workspace's branch is reset to a commit of that tree (parents: the head, then
the base), and that commit becomes the workspace's ``base_sha``. So the patch the agent's
session leaves (``export_patch``) is the resolution only, never the base's own changes,
and the daemon writes the same tree again before it applies it
(``factory.forge.pr_merge_push``).
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from factory.errors import WorkspaceError
from factory.workspace import gitreset
from factory.workspace.checkout import AGENT_IDENTITY, Workspace
from factory.workspace.gitutil import run_git

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class MergeWorkspace(Workspace):
    """A workspace whose checkout is the conflicted merge of ``merge_base_sha`` into
    ``head_sha``; ``base_sha`` is the commit of that conflicted tree."""

    head_sha: str = ""
    """The pull request's head the merge was made on (what a push is leased on)."""
    merge_base_sha: str = ""
    """The base branch's commit merged in (the merge commit's second parent)."""
    conflicts: tuple[str, ...] = ()
    """The conflicted paths: the only files the agent's resolution may change."""


def conflicted_workspace(workspace: Workspace, base_sha: str) -> MergeWorkspace:
    """Return ``workspace`` with the conflicted merge of ``base_sha`` into its head checked out.

    Raises WorkspaceError when the base commit is not in the checkout or the two merge
    cleanly (nothing for an agent to resolve); GitError when git fails otherwise.
    """
    path, head = workspace.path, workspace.base_sha
    probe = run_git(["cat-file", "-e", f"{base_sha}^{{commit}}"], cwd=path, check=False)
    if probe.returncode != 0:
        raise WorkspaceError(f"run {workspace.run_id}: base commit {base_sha} is not in the mirror")
    proc = run_git(
        ["merge-tree", "--write-tree", "--name-only", "--no-messages", head, base_sha],
        cwd=path,
        check=False,
    )
    lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
    if proc.returncode != 1 or not lines:
        raise WorkspaceError(
            f"run {workspace.run_id}: {base_sha[:12]} does not conflict with {head[:12]}"
        )
    conflicts = tuple(dict.fromkeys(line for line in lines[1:] if line))
    message = f"Conflicted merge of {base_sha[:12]} (resolve the conflict markers)\n"
    commit = (
        run_git(
            ["commit-tree", lines[0], "-p", head, "-p", base_sha, "-F", "-"],
            cwd=path,
            input=message.encode(),
            config=AGENT_IDENTITY,
        )
        .stdout.decode()
        .strip()
    )
    run_git(["reset", "--quiet", "--hard", commit], cwd=path)
    try:  # the export puts the layer's .git back as snapshotted: with this commit in it
        gitreset.resnapshot(path)
    except OSError as exc:
        raise WorkspaceError(
            f"run {workspace.run_id}: cannot keep the merge's .git: {exc}"
        ) from exc
    log.info("merge_workspace_ready", run_id=workspace.run_id, files=len(conflicts))
    return MergeWorkspace(
        run_id=workspace.run_id,
        path=path,
        ref=workspace.ref,
        base_sha=commit,
        head_sha=head,
        merge_base_sha=base_sha,
        conflicts=conflicts,
    )
