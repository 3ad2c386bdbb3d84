"""Whatever the agent does to its overlay's ``.git``, the patch is its working tree's diff."""

from __future__ import annotations

import subprocess
from pathlib import Path

from factory.interfaces import Sandbox, SandboxLimits
from factory.sandbox import make_sandbox
from factory.workspace import Mirror, export_patch
from tests.workspace.conftest import Remote, git
from tests.workspace.overlay_fixtures import MakeOverlays, make_overlays, needs_root, tree_hash

__all__ = ["make_overlays"]  # the fixture, used by name

pytestmark = needs_root

EDITS = r"""
printf 'print("agent")\n' > src/app.py
printf 'new\n' > added.txt
rm docs/old.txt
"""
"""The agent's real change: an edit, a new file and a deletion."""

EXPECTED = {"README.md": "hello\n", "added.txt": "new\n", "src/app.py": 'print("agent")\n'}
"""The tracked files of a clean clone of the base commit once the exported patch is applied."""


def _run(sandbox: Sandbox, path: Path, script: str) -> str:
    result = sandbox.exec(
        ["sh", "-c", "set -e\n" + script], workspace=path, limits=SandboxLimits(timeout_s=60)
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def _applied(patch: bytes, remote: Remote, sha: str, tmp_path: Path) -> dict[str, str]:
    """Apply ``patch`` to a clean clone of ``remote`` at ``sha``; return its tracked files."""
    clone = tmp_path / "clean"
    git("clone", "-q", str(remote.bare), str(clone), cwd=tmp_path)
    git("checkout", "-q", "--detach", sha, cwd=clone)
    subprocess.run(["git", "apply", "--index", "-"], input=patch, cwd=clone, check=True)
    names = git("ls-files", cwd=clone).split()
    return {n: (clone / n).read_text() for n in names}


def _export_after(
    make_overlays: MakeOverlays, remote: Remote, tmp_path: Path, vandalism: str
) -> dict[str, str]:
    """Make the agent's edits, then ``vandalism`` to ``.git``; return what the patch gives."""
    wss = make_overlays()
    ws = wss.prepare("RUN1")
    sandbox = make_sandbox("bwrap")
    _run(sandbox, ws.path, EDITS + vandalism)
    return _applied(export_patch(ws, sandbox), remote, ws.base_sha, tmp_path)


def test_deleted_packs_and_loose_objects_still_export_the_right_patch(
    make_overlays: MakeOverlays, mirror: Mirror, remote: Remote, tmp_path: Path
) -> None:
    """With every pack and loose object deleted, the patch still gives exactly the edits."""
    git("repack", "-a", "-d", "-q", cwd=mirror.path)  # the base then holds a real pack
    vandalism = "ls .git/objects/pack/*.pack >/dev/null\nrm -rf .git/objects/pack .git/objects/??\n"
    assert _export_after(make_overlays, remote, tmp_path, vandalism) == EXPECTED


def test_truncated_loose_objects_still_export_the_right_patch(
    make_overlays: MakeOverlays, remote: Remote, tmp_path: Path
) -> None:
    """With every loose object truncated to nothing, the patch still gives exactly the edits."""
    vandalism = (
        'test -n "$(find .git/objects/?? -type f)"\n'
        'find .git/objects/?? -type f | while read -r p; do chmod u+w "$p"; : > "$p"; done\n'
    )
    assert _export_after(make_overlays, remote, tmp_path, vandalism) == EXPECTED


def test_replaced_head_and_refs_still_export_the_right_patch(
    make_overlays: MakeOverlays, remote: Remote, tmp_path: Path
) -> None:
    """A garbage HEAD and a removed refs folder do not change or break the exported patch."""
    vandalism = "echo garbage > .git/HEAD\nrm -rf .git/refs\n"
    assert _export_after(make_overlays, remote, tmp_path, vandalism) == EXPECTED


def test_rewritten_packed_refs_still_export_the_right_patch(
    make_overlays: MakeOverlays, remote: Remote, tmp_path: Path
) -> None:
    """A packed-refs file rewritten to garbage does not change or break the exported patch."""
    vandalism = "printf 'not a packed ref\\n0000 refs/heads/main\\n' > .git/packed-refs\n"
    assert _export_after(make_overlays, remote, tmp_path, vandalism) == EXPECTED


def test_alternates_into_the_mirror_are_not_followed(
    make_overlays: MakeOverlays, mirror: Mirror, remote: Remote, tmp_path: Path
) -> None:
    """An alternates file naming the mirror is dropped: the patch is right, the mirror untouched."""
    before = tree_hash(mirror.path)
    vandalism = (
        f"mkdir -p .git/objects/info\necho {mirror.path}/objects > .git/objects/info/alternates\n"
        "rm -rf .git/objects/pack .git/objects/??\n"
    )
    result = _export_after(make_overlays, remote, tmp_path, vandalism)
    assert (result, tree_hash(mirror.path)) == (EXPECTED, before)


def test_info_exclude_cannot_hide_a_new_file_from_the_patch(
    make_overlays: MakeOverlays, remote: Remote, tmp_path: Path
) -> None:
    """A new file the agent lists in .git/info/exclude is still in the exported patch."""
    vandalism = "mkdir -p .git/info\necho added.txt >> .git/info/exclude\n"
    assert _export_after(make_overlays, remote, tmp_path, vandalism) == EXPECTED


def test_core_worktree_elsewhere_does_not_change_the_patch(
    make_overlays: MakeOverlays, remote: Remote, tmp_path: Path
) -> None:
    """A core.worktree pointing away from the workspace does not change what the patch holds."""
    vandalism = (
        "mkdir -p /tmp/other\necho x > /tmp/other/x.txt\ngit config core.worktree /tmp/other\n"
    )
    assert _export_after(make_overlays, remote, tmp_path, vandalism) == EXPECTED


def test_a_removed_git_folder_still_exports_the_right_patch(
    make_overlays: MakeOverlays, remote: Remote, tmp_path: Path
) -> None:
    """With .git deleted and replaced by an empty repository the patch still gives the edits."""
    vandalism = "rm -rf .git\ngit init -q .\n"
    assert _export_after(make_overlays, remote, tmp_path, vandalism) == EXPECTED


def test_pull_request_workspace_exports_after_its_fetched_objects_are_deleted(
    make_overlays: MakeOverlays, remote: Remote, tmp_path: Path
) -> None:
    """A PR workspace whose fetched objects are deleted still exports its edits against the head."""
    wss = make_overlays()
    ws = wss.prepare("RUN1", "refs/pull/1/head")
    sandbox = make_sandbox("bwrap")
    _run(
        sandbox, ws.path, "printf 'edited\\n' > pr.txt\nrm -rf .git/objects/pack .git/objects/??\n"
    )
    result = _applied(export_patch(ws, sandbox), remote, ws.base_sha, tmp_path)
    assert result["pr.txt"] == "edited\n"


def test_export_twice_gives_the_same_patch(
    make_overlays: MakeOverlays, remote: Remote, tmp_path: Path
) -> None:
    """Exporting a vandalised workspace a second time gives the same bytes as the first."""
    wss = make_overlays()
    ws = wss.prepare("RUN1")
    sandbox = make_sandbox("bwrap")
    _run(sandbox, ws.path, EDITS + "rm -rf .git/objects/??\n")
    first = export_patch(ws, sandbox)
    assert export_patch(ws, sandbox) == first


def test_agent_files_survive_the_export(make_overlays: MakeOverlays) -> None:
    """After an export the agent's working-tree files are still in the workspace."""
    wss = make_overlays()
    ws = wss.prepare("RUN1")
    sandbox = make_sandbox("bwrap")
    _run(sandbox, ws.path, EDITS + "rm -rf .git/objects/??\n")
    export_patch(ws, sandbox)
    assert (ws.path / "added.txt").read_text() == "new\n"
