"""Export the agent's change as a patch, computed inside the sandbox.

After the session the workspace's ``.git`` is agent-written, so host git must not run
there. Instead a short shell script runs through ``Sandbox.exec`` over the workspace:
it stages everything (tracked edits, deletions, new untracked files that are not
ignored) into a *temporary* index seeded from the base commit, diffs that index against
``base_sha`` with ``--binary``, and prints the result base64-encoded, because
``ExecResult.stdout`` is text and a patch is bytes.

The diff options pin the format against whatever the agent put in ``.git/config``
(prefixes, external diff, textconv, renames, colour), so ``git apply`` in the daemon's
own clone gets a plain patch. The patch is data: its content is whatever the agent
made, and the applier checks it against policy. Paths in it are relative to the
repository, so it does not depend on where the sandbox binds the workspace.

In an overlay workspace the agent's ``.git`` edits are dropped first
(``factory.workspace.gitreset``): truncated packs, garbage refs, ``info/exclude`` or
``core.worktree`` neither break nor bend the patch. A full checkout's wrecked ``.git``
fails the export loudly.
"""

from __future__ import annotations

import base64
import binascii
import re

import structlog

from factory.errors import WorkspaceError
from factory.interfaces import Sandbox, SandboxLimits
from factory.workspace import gitreset
from factory.workspace.checkout import Workspace

log = structlog.get_logger(__name__)

DEFAULT_MAX_PATCH_BYTES = 8 * 1024 * 1024
_SHA_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")

_GIT_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.autocrlf=false",
    "safe.directory=*",
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
    "diff.suppressBlankEmpty=false",
    "diff.relative=false",
    "color.ui=false",
)
"""Command-line config for git in the sandbox: beats the agent's repo-local config."""

_DIFF_OPTIONS = (
    "--binary --full-index --no-color --no-ext-diff --no-textconv --no-renames "
    "--no-relative --src-prefix=a/ --dst-prefix=b/"
)

# "$1" is the base sha (checked to be hex before it gets here). The temporary index
# leaves the agent's own index alone and makes staged-vs-unstaged irrelevant.
_SCRIPT = f"""set -eu
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
g() {{ git {" ".join(f"-c {c}" for c in _GIT_CONFIG)} "$@"; }}
export GIT_INDEX_FILE="$t/index"
g read-tree "$1"
g add --all
g diff --cached {_DIFF_OPTIONS} "$1" -- >"$t/patch"
base64 "$t/patch"
"""

SANDBOX_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
}
"""Added to the sandbox's environment for git: no system or global config, no prompts."""


def export_patch(
    workspace: Workspace,
    sandbox: Sandbox,
    *,
    max_patch_bytes: int = DEFAULT_MAX_PATCH_BYTES,
    timeout_s: float = 300.0,
) -> bytes:
    """Return the workspace's change against its base commit as a binary git patch.

    The patch covers edits, deletions and new files that are not ignored; it is empty
    (``b""``) when nothing changed. Runs git only inside ``sandbox``.
    Raises WorkspaceError if the script fails, times out or the patch is larger than
    ``max_patch_bytes``; SandboxUnavailable if the sandbox cannot start.
    """
    run_id = workspace.run_id
    if not _SHA_RE.match(workspace.base_sha):
        raise WorkspaceError(f"workspace of run {run_id} has a bad base sha")
    # An overlay's .git goes back to what the daemon made: the agent's edits to it
    # (objects, refs, config, info/) cannot break or bend the patch.
    gitreset.reset(workspace.path, run_id)
    # base64 grows 4/3, plus one newline per 76 characters.
    limits = SandboxLimits(timeout_s=timeout_s, max_output_bytes=max_patch_bytes * 14 // 10 + 4096)
    result = sandbox.exec(
        ["sh", "-c", _SCRIPT, "export-patch", workspace.base_sha],
        workspace=workspace.path,
        network="none",
        limits=limits,
        env=SANDBOX_GIT_ENV,
    )
    if result.killed_reason == "output":
        raise WorkspaceError(f"patch of run {run_id} is larger than {max_patch_bytes} bytes")
    if result.timed_out or result.exit_code != 0:
        reason = "timed out" if result.timed_out else f"exit code {result.exit_code}"
        raise WorkspaceError(
            f"exporting the patch of run {run_id} failed ({reason}): {result.stderr[-2000:]}"
        )
    try:
        patch = base64.b64decode(result.stdout, validate=False)
    except binascii.Error as exc:
        raise WorkspaceError(f"patch of run {run_id} came back garbled: {exc}") from exc
    if len(patch) > max_patch_bytes:
        raise WorkspaceError(f"patch of run {run_id} is larger than {max_patch_bytes} bytes")
    log.info("patch_exported", run_id=run_id, patch_bytes=len(patch))
    return patch
