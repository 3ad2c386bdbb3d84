"""A hostile agent's workspace and patch: nothing runs on the host, nothing leaks.

The whole flow is real: a mirror of the FakeGitHub repository, the run's workspace, the
agent's traps planted in it, the patch exported inside bubblewrap, applied, committed and
pushed by the daemon, and the pull request opened through PyGithub.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from github.Repository import Repository

from factory.config.outputs_config import OpenPullRequestOutput
from factory.errors import PatchRefused
from factory.forge.patches import PushedBranch, apply_patch
from factory.forge.pulls import open_pull_request
from factory.interfaces import Sandbox
from factory.testing.fake_github import FakeGitHub
from factory.workspace import Mirror, Workspace, Workspaces, export_patch

from .patch_helpers import (
    IDENTITY,
    REPO,
    clone,
    fake_fixture,  # noqa: F401  (fixture "fake")
    git,
    make_policy,
    repo_fixture,  # noqa: F401  (fixture "repo")
)

RUN_ID = "01JRUNAAAAAAAAAAAAABCDEFGH"
BRANCH = "factory/issue-1-abcdefgh"
SECRET = "TOPSECRET-CANARY-7f1e"
HOOKS = (
    "post-checkout",
    "pre-commit",
    "post-commit",
    "pre-push",
    "post-index-change",
    "reference-transaction",
    "pre-auto-gc",
)


@dataclass
class Scene:
    """One trapped run: its workspace, the host files a leak or an escape would touch."""

    fake: FakeGitHub
    data: Path
    workspace: Workspace
    markers: tuple[Path, ...]
    secret: Path

    def fired(self) -> list[Path]:
        """Return the marker files that exist on the host."""
        return [m for m in self.markers if m.exists()]


def _arm(ws: Path, markers: tuple[Path, ...]) -> None:
    """Plant everything that runs a command when host git touches this .git."""
    touch = " ".join(str(m) for m in markers)
    script = f"#!/bin/sh\ntouch {touch}\n"
    evil_hooks = ws / "evil-hooks"
    evil_hooks.mkdir()
    for folder in (ws / ".git" / "hooks", evil_hooks):
        for name in HOOKS:
            (folder / name).write_text(script)
            (folder / name).chmod(0o755)
    for key, value in {
        "core.fsmonitor": f"touch {touch}; true",
        "core.hooksPath": str(evil_hooks),
        "core.pager": f"touch {touch}; cat",
        "filter.evil.clean": f"touch {touch}; cat",
        "filter.evil.smudge": f"touch {touch}; cat",
        "diff.external": f"touch {touch}; true",
    }.items():
        git("config", key, value, cwd=ws)
    (ws / ".gitattributes").write_text("* filter=evil\n")


@pytest.fixture
def scene(fake: FakeGitHub, tmp_path: Path) -> Scene:
    """A prepared, booby-trapped workspace with a legitimate docs change in it."""
    fake.create_issue(REPO, "Guide is thin", "Please expand.", as_user="alice")
    data = tmp_path / "data"
    mirror = Mirror(data, REPO, fake.clone_url(REPO))
    mirror.fetch()
    ws = Workspaces(data, mirror).prepare(RUN_ID)
    name = f"pwned-{uuid.uuid4().hex}"
    markers = (Path("/tmp") / name, tmp_path / name, data / name)
    secret = data / "secret"  # ../../secret from the workspace
    secret.write_text(f"{SECRET}\n")
    _arm(ws.path, markers)
    (ws.path / "docs" / "guide.md").write_text("Guide.\nExpanded by the agent.\n")
    return Scene(fake, data, ws, markers, secret)


def _apply(scene: Scene, patch: bytes) -> PushedBranch:
    return apply_patch(
        patch,
        source=scene.fake.clone_url(REPO),
        base_sha=scene.workspace.base_sha,
        branch=BRANCH,
        message="Expand the guide",
        identity=IDENTITY,
        policy=make_policy(),
        data_dir=scene.data,
        run_id=RUN_ID,
    )


def _remote_branches(scene: Scene) -> str:
    return git("for-each-ref", "--format=%(refname)", "refs/heads/factory/", cwd=_bare(scene))


def _bare(scene: Scene) -> Path:
    return scene.fake.repo(REPO).git.path


def test_traps_fire_under_plain_host_git(scene: Scene) -> None:
    """Control: plain host git in the trapped workspace does run the agent's commands."""
    git("status", cwd=scene.workspace.path)
    assert scene.fired() != []


def test_trapped_workspace_becomes_a_pull_request_without_running_anything(
    scene: Scene,
    sandbox: Sandbox,
    repo: Repository,
) -> None:
    """Export in the sandbox, apply, commit, push and open the PR: no marker appears."""
    patch = export_patch(scene.workspace, sandbox)
    pushed = _apply(scene, patch)
    pr = open_pull_request(
        repo,
        pushed,
        title="Expand guide",
        body="Done.",
        issue_number=1,
        labels=OpenPullRequestOutput().labels,
        draft=OpenPullRequestOutput().draft,
        run_id=RUN_ID,
        key="open_pull_request:1",
    )
    assert (scene.fired(), sorted(scene.fake.repo(REPO).pulls)) == ([], [pr.number])


def test_agent_files_arrive_as_plain_data(scene: Scene, sandbox: Sandbox, tmp_path: Path) -> None:
    """The pushed branch carries the agent's files as content; cloning it runs nothing."""
    _apply(scene, export_patch(scene.workspace, sandbox))
    out = clone(scene.fake.clone_url(REPO), tmp_path / "check", BRANCH)
    assert ((out / "docs" / "guide.md").read_text(), scene.fired()) == (
        "Guide.\nExpanded by the agent.\n",
        [],
    )


@pytest.mark.parametrize("target", ["/etc/passwd", "../../secret"], ids=["etc-passwd", "dotdot"])
def test_symlink_out_of_the_repository_is_refused(
    scene: Scene, sandbox: Sandbox, target: str
) -> None:
    """A symlink pointing outside the repository is refused; no branch, no marker."""
    (scene.workspace.path / "docs" / "leak.md").symlink_to(target)
    patch = export_patch(scene.workspace, sandbox)
    with pytest.raises(PatchRefused, match="symlink"):
        _apply(scene, patch)
    assert (_remote_branches(scene), scene.fired()) == ("", [])


@pytest.mark.parametrize("target", ["/etc/passwd", "../../secret"], ids=["etc-passwd", "dotdot"])
def test_symlink_target_contents_never_leave(scene: Scene, sandbox: Sandbox, target: str) -> None:
    """Neither the secret nor /etc/passwd's contents are in the patch or the remote."""
    (scene.workspace.path / "docs" / "leak.md").symlink_to(target)
    patch = export_patch(scene.workspace, sandbox)
    with pytest.raises(PatchRefused):
        _apply(scene, patch)
    everything = git("log", "--all", "-p", "--format=%B", cwd=_bare(scene))
    assert (SECRET.encode() in patch, b"root:x:0" in patch, SECRET in everything) == (
        False,
        False,
        False,
    )


GIT_CONFIG_PATCH = b"""diff --git a/.git/config b/.git/config
new file mode 100644
index 0000000..1111111
--- /dev/null
+++ b/.git/config
@@ -0,0 +1,2 @@
+[core]
+\tfsmonitor = touch MARKER
"""

HOOK_PATCH = b"""diff --git a/.git/hooks/post-checkout b/.git/hooks/post-checkout
new file mode 100755
--- /dev/null
+++ b/.git/hooks/post-checkout
@@ -0,0 +1,2 @@
+#!/bin/sh
+touch MARKER
"""

TRAVERSAL_PATCH = b"""diff --git a/../../outside b/../../outside
new file mode 100644
--- /dev/null
+++ b/../../outside
@@ -0,0 +1 @@
+MARKER
"""


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        (GIT_CONFIG_PATCH, "'.git/config', which is inside .git"),
        (HOOK_PATCH, "'.git/hooks/post-checkout', which is inside .git"),
        (TRAVERSAL_PATCH, "'../../outside', which is not a plain relative path"),
    ],
    ids=["git-config", "git-hook", "traversal"],
)
def test_patch_writing_outside_the_tree_is_refused(scene: Scene, patch: bytes, reason: str) -> None:
    """Patches aimed at .git/ or outside the repository are refused; nothing is written."""
    armed = patch.replace(b"MARKER", str(scene.markers[1]).encode())
    with pytest.raises(PatchRefused, match=reason.replace(".", r"\.")):
        _apply(scene, armed)
    assert (_remote_branches(scene), scene.fired(), (scene.data / "outside").exists()) == (
        "",
        [],
        False,
    )
