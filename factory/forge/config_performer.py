"""The ``propose_config_change`` performer: a branch and pull request on the config repository.

The performer never touches the config repository's working tree (the daemon reads its
automations from there: editing it would apply the change). It clones the repository into
the data dir, writes the files, validates the result like ``factoryd validate`` (a proposal
that would not load is refused with the issues), commits with the factory's identity on a
branch named after the idempotency key, and then:

- when the repository has a remote ``origin``: pushes the branch there and opens a pull
  request on that GitHub repository (the last two parts of the remote's URL), labelled with
  the policy's needs-human label — refused when that repository is the application's;
- else: writes the branch into the config repository itself (a ref, not the working tree)
  and the commit as a patch file under ``DATA_DIR/config-proposals/``.

Merging is left to people: ``merge_gate`` refuses any pull request on the config repository
or carrying a proposal marker.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from github import Github
from github.Repository import Repository

from factory.config.loader import validate
from factory.errors import GitError, OutputFailed, OutputRefused
from factory.forge.config_proposals import BRANCH_PREFIX, KIND, check_config_path
from factory.forge.markers import append_marker
from factory.forge.output_performers import Applied, OutputPerformer
from factory.forge.output_requests import PreparedOutput, RunContext
from factory.forge.pulls import find_pull_request
from factory.workspace.gitutil import git_out, run_git

log = structlog.get_logger(__name__)

PROPOSALS_DIR = "config-proposals"
"""Under the data dir: the patch files of proposals without a remote, and work clones."""


def remote_repository(url: str) -> str:
    """Return ``owner/name`` of a git remote URL (https, ssh or a path): its last two parts."""
    tail = re.split(r"[/:]", url.strip().rstrip("/"))
    if len(tail) < 2 or not tail[-2] or not tail[-1]:
        raise OutputRefused(f"{KIND}: cannot tell the GitHub repository of remote {url!r}")
    name = tail[-1].removesuffix(".git")
    return f"{tail[-2]}/{name}"


@dataclass(frozen=True)
class ConfigRepoSide:
    """Where proposals go: the config repository, the data dir, GitHub and the policy's label."""

    root: Path | None
    """The factory config repository (``Settings.config_root``); None: proposals refused."""
    data_dir: Path
    needs_human: str
    """The policy's needs-human label: every proposal carries it."""
    github: Github | None = None
    """The same client as the application's, for the config repository's pull request."""
    auth_header: Callable[[], str | None] = lambda: None
    identity: tuple[str, str] = ("factoryd", "factoryd@users.noreply.github.com")

    def branch(self, key: str) -> str:
        """The proposal's branch: stable for one idempotency key."""
        return BRANCH_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:12]

    def repo_root(self) -> Path:
        """Return the config repository; raise OutputRefused unless it is a git repository's
        top level."""
        if self.root is None:
            raise OutputRefused(f"{KIND}: this daemon has no factory config repository")
        try:
            top = git_out(["rev-parse", "--show-toplevel"], cwd=self.root)
        except (GitError, OSError):
            top = ""
        if not top or Path(top).resolve() != self.root.resolve():
            raise OutputRefused(
                f"{KIND}: the factory config directory {self.root} is not a git repository of"
                " its own (run `git init` there)"
            )
        return self.root

    def remote(self, root: Path) -> str | None:
        """The URL of the config repository's ``origin``, or None."""
        proc = run_git(["remote", "get-url", "origin"], cwd=root, check=False)
        url = proc.stdout.decode("utf-8", "replace").strip()
        return url or None

    def config_repository(self, root: Path, app: Repository) -> Repository | None:
        """The GitHub repository of ``origin`` (None: no remote); refused if it is ``app``."""
        url = self.remote(root)
        if url is None:
            return None
        if self.github is None:
            raise OutputRefused(f"{KIND}: the config repository has a remote but no GitHub client")
        full_name = remote_repository(url)
        if full_name.lower() == app.full_name.lower():
            raise OutputRefused(
                f"{KIND}: the config repository's remote is the application repository"
                f" {app.full_name}: the factory proposes config changes only to a repository"
                " of their own"
            )
        return self.github.get_repo(full_name)


def config_repository_name(root: Path) -> str | None:
    """Return ``owner/name`` of the config repository's ``origin``, or None (no remote, not a
    git repository, or a URL that names no repository)."""
    try:
        proc = run_git(["remote", "get-url", "origin"], cwd=root, check=False)
    except (GitError, OSError):
        return None
    url = proc.stdout.decode("utf-8", "replace").strip()
    if proc.returncode != 0 or not url:
        return None
    try:
        return remote_repository(url)
    except OutputRefused:
        return None


def _commit(side: ConfigRepoSide, root: Path, payload: dict[str, Any], key: str) -> Path:
    """Clone ``root``, write and validate the change, commit it; return the clone."""
    clone = side.data_dir / PROPOSALS_DIR / "work" / side.branch(key).removeprefix(BRANCH_PREFIX)
    shutil.rmtree(clone, ignore_errors=True)
    clone.parent.mkdir(parents=True, exist_ok=True)
    run_git(["clone", "--quiet", "--no-tags", "--", str(root), str(clone)])
    top = clone.resolve()
    for change in payload["changes"]:
        target = clone / check_config_path(change["path"])
        if not target.parent.resolve().is_relative_to(top) or target.is_symlink():
            raise OutputRefused(f"{KIND}: {change['path']!r} leads outside the repository")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(change["content"], encoding="utf-8")
    issues = validate(clone / "automations", clone / "harness")
    if issues:
        shown = "; ".join(str(i) for i in issues[:10]).replace(str(clone) + "/", "")
        raise OutputRefused(f"{KIND}: the proposed config does not validate: {shown}")
    run_git(["add", "--", *[c["path"] for c in payload["changes"]]], cwd=clone)
    if run_git(["diff", "--cached", "--quiet"], cwd=clone, check=False).returncode == 0:
        raise OutputRefused(f"{KIND}: the proposal changes nothing")
    name, email = side.identity
    run_git(
        ["commit", "--quiet", "--no-verify", "-m", f"{payload['title']}\n\n{payload['body']}"],
        cwd=clone,
        config={"user.name": name, "user.email": email, "commit.gpgsign": "false"},
    )
    return clone


def config_proposal_performer(side: ConfigRepoSide) -> OutputPerformer:
    """Return the ``propose_config_change`` performer bound to ``side``."""

    def perform(ctx: RunContext, prepared: PreparedOutput, key: str) -> Applied:
        root = side.repo_root()
        target = side.config_repository(root, ctx.repo)
        payload, branch = prepared.payload, side.branch(key)
        clone = _commit(side, root, payload, key)
        url = side.remote(root) or ""
        labels = list(dict.fromkeys([side.needs_human, *payload.get("labels", [])]))
        try:
            if target is None:
                return _local(side, root, clone, branch, payload)
            run_git(
                [
                    "push",
                    "--quiet",
                    "--no-verify",
                    "--force",
                    "--",
                    url,
                    f"HEAD:refs/heads/{branch}",
                ],
                cwd=clone,
                auth_header=side.auth_header(),
                allow_file_protocol=True,
            )
            pull = find_pull_request(target, branch, key) or target.create_pull(
                base=target.default_branch,
                head=branch,
                title=payload["title"],
                body=append_marker(payload["body"], ctx.run_id, key),
            )
            pull.add_to_labels(*labels)
        except GitError as exc:
            raise OutputFailed(f"{KIND}: git failed: {exc}") from exc
        finally:
            shutil.rmtree(clone, ignore_errors=True)
        log.info("config_proposal_opened", run_id=ctx.run_id, repo=target.full_name, pr=pull.number)
        return Applied(
            pull.html_url, {"number": pull.number, "branch": branch, "repository": target.full_name}
        )

    def find(
        ctx: RunContext, prepared: PreparedOutput, key: str, since: datetime
    ) -> Applied | None:
        root = side.repo_root()
        target = side.config_repository(root, ctx.repo)
        branch = side.branch(key)
        if target is not None:
            pull = find_pull_request(target, branch, key)
            if pull is None:
                return None
            return Applied(
                pull.html_url,
                {"number": pull.number, "branch": branch, "repository": target.full_name},
            )
        patch = _patch_path(side, branch)
        ref = run_git(
            ["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=root, check=False
        )
        if ref.returncode != 0 or not patch.is_file():
            return None
        return Applied(patch.as_uri(), {"branch": branch, "patch": str(patch)})

    return OutputPerformer(perform, find)


def _patch_path(side: ConfigRepoSide, branch: str) -> Path:
    return side.data_dir / PROPOSALS_DIR / f"{branch.removeprefix('factory/')}.patch"


def _local(
    side: ConfigRepoSide, root: Path, clone: Path, branch: str, payload: dict[str, Any]
) -> Applied:
    """No remote: the branch goes into the config repository, the commit into a patch file."""
    run_git(
        ["push", "--quiet", "--no-verify", "--force", "--", str(root), f"HEAD:refs/heads/{branch}"],
        cwd=clone,
    )
    patch = run_git(["format-patch", "-1", "--stdout", "HEAD"], cwd=clone).stdout
    path = _patch_path(side, branch)
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = ", ".join(dict.fromkeys([side.needs_human, *payload.get("labels", [])]))
    head = f"Labels: {labels}\nBranch: {branch} (in {root})\n\n"
    path.write_bytes(head.encode() + patch)
    log.info("config_proposal_saved", branch=branch, patch=str(path))
    return Applied(path.as_uri(), {"branch": branch, "patch": str(path), "labels": labels})
