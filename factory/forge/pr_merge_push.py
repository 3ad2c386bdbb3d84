"""The agent's conflict resolution pushed as the merge commit of a factory pull request.

When the base does not merge cleanly into a factory PR's head, the run's workspace holds the
conflicted merge (``factory.workspace.merge_workspace``): the tree ``git merge-tree`` writes,
conflict markers in the conflicted files. The agent's patch is relative to that tree, so
it is the resolution only. Here, in a fresh ``--no-checkout`` clone of the mirror, the daemon

* writes the same conflicted tree again (``merge-tree`` of head and base) into the index,
* applies the patch to the index and checks it: it may touch only the conflicted files
  (the base's own changes are not the agent's to edit), under the patch policy, and no
  conflict marker may be left in them,
* commits the result with two parents — the head, then the base — and fast-forwards the
  branch with a lease on the head (a branch that moved is stale: nothing is pushed).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import structlog

from factory.config.harness import Policy
from factory.errors import GitError, OutputRefused, PatchRefused
from factory.forge.patch_policy import PatchLimits, check_staged, precheck
from factory.forge.patches import Identity, _apply, _clone, _staged
from factory.forge.pr_push_git import PushedCommit, commit_message, commit_tree, leased_push
from factory.workspace import Mirror
from factory.workspace.gitutil import git_out, run_git

log = structlog.get_logger(__name__)

_MARKER_RE = re.compile(rb"^(<{7} |>{7} |={7}$)", re.MULTILINE)


def conflicted_tree(clone: Path, head_sha: str, base_sha: str) -> tuple[str, tuple[str, ...]]:
    """Return (the tree ``merge-tree`` writes for head and base, the conflicted paths).

    Raises GitError when git fails (a missing commit, a corrupt repository).
    """
    proc = run_git(
        ["merge-tree", "--write-tree", "--name-only", "--no-messages", head_sha, base_sha],
        cwd=clone,
        check=False,
    )
    lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
    if proc.returncode not in (0, 1) or not lines:
        raise GitError("merge-tree", proc.returncode, proc.stderr.decode("utf-8", "replace"))
    return lines[0], tuple(dict.fromkeys(line for line in lines[1:] if line))


def push_resolution(
    patch: bytes,
    *,
    mirror: Mirror,
    branch: str,
    head_sha: str,
    base_sha: str,
    message: str,
    key: str,
    identity: Identity,
    policy: Policy,
    data_dir: Path,
    run_id: str,
    auth_header: str | None,
) -> PushedCommit:
    """Commit the conflicted merge of ``head_sha`` and ``base_sha`` resolved by ``patch``.

    Raises PatchRefused when the patch touches a file that was not conflicted, breaks the
    patch policy, does not apply or leaves a conflict marker; OutputRefused when the branch
    moved (stale); OutputFailed when the push fails.
    """
    if not branch.startswith("factory/"):
        raise OutputRefused(f"push_to_pull_request: {branch!r} is not a factory/ branch")
    limits = PatchLimits()
    clone = Path(data_dir) / "patches" / f"{run_id}-resolve"
    shutil.rmtree(clone, ignore_errors=True)
    clone.parent.mkdir(parents=True, exist_ok=True)
    try:
        precheck(patch, policy, limits, run_id)
        _clone(mirror, clone, head_sha, run_id, auth_header)
        tree, conflicts = conflicted_tree(clone, head_sha, base_sha)
        run_git(["read-tree", tree], cwd=clone)
        _apply(clone, patch, run_id)
        files = _staged(clone, tree)
        outside = sorted({f.path for f in files} - set(conflicts))
        if outside:
            raise PatchRefused(
                f"run {run_id}: a conflict resolution may change only the conflicted files;"
                f" it also changes {', '.join(outside[:10])}"
            )
        check_staged(files, policy, limits, run_id)
        for path in conflicts:
            blob = run_git(["cat-file", "-p", f":{path}"], cwd=clone, check=False)
            if blob.returncode == 0 and _MARKER_RE.search(blob.stdout):
                raise PatchRefused(f"run {run_id}: {path} still holds conflict markers")
        resolved = git_out(["write-tree"], cwd=clone)
        text = commit_message(message, run_id, key)
        sha = commit_tree(clone, resolved, [head_sha, base_sha], text, identity)
        leased_push(clone, mirror.remote_url, branch, head_sha, sha, auth_header, run_id)
    finally:
        shutil.rmtree(clone, ignore_errors=True)
    log.info("pr_resolution_pushed", run_id=run_id, branch=branch, sha=sha, files=len(files))
    return PushedCommit(branch, sha, head_sha, tuple(files))
