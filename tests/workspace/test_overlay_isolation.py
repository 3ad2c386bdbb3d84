"""An agent in an overlay workspace reaches neither the base, the mirror nor another run."""

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

VANDAL = r"""set -e
git config core.hooksPath /tmp/evil
git config user.name vandal
printf '#!/bin/sh\necho pwned\n' > .git/hooks/pre-commit
chmod +x .git/hooks/pre-commit
find .git/objects -type f | while read -r p; do chmod u+w "$p"; : > "$p"; done
printf 'print("agent")\n' > src/app.py
printf 'new\n' > added.txt
"""
"""What a hostile agent does to its workspace: rewrite config, add hooks, truncate every object file
(packs and loose objects), edit and add files."""


def _sandbox() -> Sandbox:
    return make_sandbox("bwrap")


def _run(sandbox: Sandbox, path: Path, script: str) -> tuple[int, str]:
    result = sandbox.exec(["sh", "-c", script], workspace=path, limits=SandboxLimits(timeout_s=60))
    return result.exit_code, result.stdout + result.stderr


def test_vandalism_leaves_base_and_mirror_identical(
    make_overlays: MakeOverlays, mirror: Mirror, remote: Remote
) -> None:
    """Config rewrite, hooks and truncated packs in the sandbox change neither base nor mirror."""
    wss = make_overlays()
    ws = wss.prepare("RUN1")
    base = wss.bases.path_for(remote.shas["main"])
    before = (tree_hash(base), tree_hash(mirror.path))
    code, out = _run(_sandbox(), ws.path, VANDAL)
    assert (code, tree_hash(base), tree_hash(mirror.path)) == (0, *before), out


def test_config_and_hooks_rewrite_still_exports_the_right_patch(
    make_overlays: MakeOverlays, remote: Remote, tmp_path: Path
) -> None:
    """After a .git/config rewrite and new hooks the exported patch gives exactly the edits."""
    wss = make_overlays()
    ws = wss.prepare("RUN1")
    sandbox = _sandbox()
    _run(sandbox, ws.path, VANDAL.replace(': > "$p"', "true"))
    patch = export_patch(ws, sandbox)
    clone = tmp_path / "clean"
    git("clone", "-q", str(remote.bare), str(clone), cwd=tmp_path)
    subprocess.run(["git", "apply", "-"], input=patch, cwd=clone, check=True)
    result = ((clone / "src/app.py").read_text(), (clone / "added.txt").read_text())
    assert result == ('print("agent")\n', "new\n")


def test_truncated_packs_still_export_the_right_patch(
    make_overlays: MakeOverlays, remote: Remote, tmp_path: Path
) -> None:
    """With config, hooks and every object file vandalised, the patch gives exactly the edits."""
    wss = make_overlays()
    ws = wss.prepare("RUN1")
    sandbox = _sandbox()
    _run(sandbox, ws.path, VANDAL)
    patch = export_patch(ws, sandbox)
    clone = tmp_path / "clean"
    git("clone", "-q", str(remote.bare), str(clone), cwd=tmp_path)
    subprocess.run(["git", "apply", "-"], input=patch, cwd=clone, check=True)
    result = ((clone / "src/app.py").read_text(), (clone / "added.txt").read_text())
    assert result == ('print("agent")\n', "new\n")


def test_next_run_on_a_vandalised_base_gets_intact_packs(make_overlays: MakeOverlays) -> None:
    """A run after one that truncated its packs sees a working repository (git fsck passes)."""
    wss = make_overlays()
    sandbox = _sandbox()
    _run(sandbox, wss.prepare("RUN1").path, VANDAL)
    code, out = _run(
        sandbox, wss.prepare("RUN2").path, "git fsck --no-progress >/dev/null && echo ok"
    )
    assert (code, out) == (0, "ok\n")


def test_base_and_mirror_paths_not_visible_in_sandbox(
    make_overlays: MakeOverlays, mirror: Mirror, remote: Remote
) -> None:
    """Inside the sandbox neither the base checkout, the mirror nor the layers exist."""
    wss = make_overlays()
    ws = wss.prepare("RUN1")
    base = wss.bases.path_for(remote.shas["main"])
    paths = [str(base), str(mirror.path), str(wss.layers)]
    script = "; ".join(f"test -e {p} && echo seen {p}" for p in paths) + "; true"
    assert _run(_sandbox(), ws.path, script) == (0, "")


def test_two_runs_on_one_base_never_see_each_others_writes(make_overlays: MakeOverlays) -> None:
    """Two live runs on one base: what one writes, .git edits included, the other never sees."""
    wss = make_overlays()
    a, b = wss.prepare("RUNA"), wss.prepare("RUNB")
    sandbox = _sandbox()
    _run(sandbox, a.path, "echo a > only-a.txt; git config user.name run-a; rm README.md")
    seen = _run(
        sandbox,
        b.path,
        "test -e only-a.txt && echo leak; git config user.name; cat README.md",
    )
    assert seen == (0, "factory-agent\nhello\n")
