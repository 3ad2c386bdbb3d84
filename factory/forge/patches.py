"""The agent's patch becomes a commit on a branch of the remote, made by the daemon alone.

The patch (from ``factory.workspace.export_patch``, computed inside the sandbox) is data
written by a possibly hostile agent. ``apply_patch``:

1. refuses it early from its headers (size, file count, paths into ``.git``, ``..`` or
   absolute paths, odd modes, symlinks, submodules, binary data) — a cheap first look;
2. makes a fresh clone that only the daemon ever wrote, under the data directory, with
   ``--no-checkout``: there is no working tree, so nothing of the patch is ever written
   as a file on the host (no symlink to follow, no ``.git`` to overwrite);
3. applies it to the index only (``git apply --cached``; never ``git am``), through the
   hardened runner of ``factory.workspace.gitutil`` (no hooks, no fsmonitor, no
   system/global config);
4. checks what git actually staged (``git diff-index --cached``), which is the authoritative
   view: protected paths, ``.git``/``.gitmodules``, symlinks, gitlinks, binary files, counts;
5. writes the tree and a commit with the factory's identity and the sanitized message
   (``git commit-tree``: no commit hooks exist for it), and pushes it to
   ``factory/<subject>-<run>`` on the remote, with an optional auth header that travels in
   the environment, never in argv or a log line.

Every refusal raises ``PatchRefused`` whose message says why (it is shown to the model).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from factory.config.harness import Policy
from factory.errors import GitError, PatchRefused
from factory.forge.patch_policy import ChangedFile, PatchLimits, check_staged, precheck
from factory.forge.sanitize import scrub_text
from factory.workspace import Mirror
from factory.workspace.gitutil import git_out, run_git

log = structlog.get_logger(__name__)

_SHA_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_RUN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_MESSAGE_CAP = 10_000


@dataclass(frozen=True)
class Identity:
    """Who the factory's commits are by."""

    name: str
    """user.name of author and committer."""
    email: str
    """user.email of author and committer."""

    def __post_init__(self) -> None:
        for value in (self.name, self.email):
            if not value or any(c in value for c in "<>\n\r\0"):
                raise ValueError(f"{value!r} is not usable in a git identity")


@dataclass(frozen=True)
class PushedBranch:
    """The branch ``apply_patch`` pushed, ready for a pull request."""

    branch: str
    """Branch name on the remote, e.g. ``factory/issue-12-5f3k9q2a``."""
    sha: str
    """The commit the branch points at."""
    base_sha: str
    """The commit the patch was applied on."""
    files: tuple[ChangedFile, ...] = field(default_factory=tuple)
    """What the commit changes."""

    @property
    def changed_lines(self) -> dict[str, int]:
        """Return ``{path: added + removed lines}`` (the input of the risk tiers)."""
        return {f.path: f.added + f.deleted for f in self.files}


def branch_name(subject: str, run_id: str) -> str:
    """Return ``factory/<subject>-<last 8 chars of run_id, lower case>``.

    ``subject`` (e.g. ``issue-12``) is reduced to ``a-z 0-9 -``. Raises ValueError on a bad
    run id.
    """
    if not _RUN_RE.match(run_id):
        raise ValueError(f"{run_id!r} is not a usable run id")
    slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")[:40].strip("-") or "change"
    return f"factory/{slug}-{run_id[-8:].lower()}"


def clean_message(message: str, run_id: str) -> str:
    """Return the agent's commit message made safe: no markers, secrets or control bytes.

    The result is capped, never empty, and ends with a ``Factory-Run:`` trailer.
    """
    text = scrub_text(message)  # hidden code points and markers go before redaction
    text = "".join(c for c in text if c in "\n\t" or (c.isprintable() and c != "\x7f"))
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())[:_MESSAGE_CAP]
    return f"{text or 'Change made by the factory'}\n\nFactory-Run: {run_id}\n"


def _staged(clone: Path, base_sha: str) -> list[ChangedFile]:
    raw = run_git(
        ["diff-index", "--cached", "--raw", "-z", "--no-renames", "--no-ext-diff", base_sha],
        cwd=clone,
    ).stdout.split(b"\0")
    nums = run_git(
        ["diff-index", "--cached", "--numstat", "-z", "--no-renames", "--no-ext-diff", base_sha],
        cwd=clone,
    ).stdout.split(b"\0")
    counts: dict[str, tuple[str, str]] = {}
    for rec in nums:
        if rec.count(b"\t") >= 2:
            added_b, deleted_b, name_b = rec.split(b"\t", 2)
            counts[name_b.decode("utf-8", "surrogateescape")] = (
                added_b.decode(),
                deleted_b.decode(),
            )
    out: list[ChangedFile] = []
    for meta, path_b in zip(raw[0::2], raw[1::2], strict=False):
        if not meta.startswith(b":"):
            continue
        old_mode, new_mode, _, _, status = meta[1:].decode().split()
        path = path_b.decode("utf-8", "surrogateescape")
        added, deleted = counts.get(path, ("0", "0"))
        binary = added == "-" or deleted == "-"
        out.append(
            ChangedFile(
                path=path,
                status=status[0],
                old_mode=old_mode,
                new_mode=new_mode,
                added=0 if binary else int(added),
                deleted=0 if binary else int(deleted),
                binary=binary,
            )
        )
    return out


def _clone(
    source: Mirror | str, dest: Path, base_sha: str, run_id: str, auth_header: str | None
) -> None:
    args = ["clone", "--no-checkout", "--quiet", "--no-tags"]
    if isinstance(source, Mirror):
        with source.reading() as mirror_path:
            run_git([*args, "--", str(mirror_path), str(dest)])
    else:
        run_git([*args, "--", source, str(dest)], auth_header=auth_header, allow_file_protocol=True)
    try:
        run_git(["cat-file", "-e", f"{base_sha}^{{commit}}"], cwd=dest)
    except GitError:
        raise PatchRefused(f"run {run_id}: base commit {base_sha} is not in the remote") from None
    run_git(["read-tree", base_sha], cwd=dest)


def _apply(clone: Path, patch: bytes, run_id: str) -> None:
    proc = run_git(
        ["apply", "--cached", "--whitespace=nowarn", "-p1", "-"],
        cwd=clone,
        input=patch,
        check=False,
    )
    if proc.returncode != 0:
        why = proc.stderr.decode("utf-8", "replace").strip()[-1000:]
        raise PatchRefused(f"run {run_id}: git apply refused the patch: {why}")


def _push(
    clone: Path,
    url: str,
    branch: str,
    sha: str,
    base_sha: str,
    auth_header: str | None,
) -> str:
    """Push ``sha`` to ``branch``; return the sha the branch ends on (an equal retry's)."""
    ref = f"refs/heads/{branch}"
    remote = run_git(
        ["ls-remote", "--", url, ref], cwd=clone, auth_header=auth_header, allow_file_protocol=True
    )
    existing = remote.stdout.decode().split("\t", 1)[0].strip()
    lease = f"--force-with-lease={ref}:{existing}" if existing else f"--force-with-lease={ref}:"
    if existing:
        run_git(
            ["fetch", "--quiet", "--no-tags", "--", url, ref],
            cwd=clone,
            auth_header=auth_header,
            allow_file_protocol=True,
        )
        same_tree = git_out(["rev-parse", f"{existing}^{{tree}}"], cwd=clone) == git_out(
            ["rev-parse", f"{sha}^{{tree}}"], cwd=clone
        )
        parents = git_out(["rev-list", "--parents", "-n1", existing], cwd=clone).split()[1:]
        if same_tree and parents == [base_sha]:
            return existing
    run_git(
        ["push", "--quiet", "--no-verify", lease, "--", url, f"{sha}:{ref}"],
        cwd=clone,
        auth_header=auth_header,
        allow_file_protocol=True,
    )
    return sha


def apply_patch(
    patch: bytes,
    *,
    source: Mirror | str,
    push_url: str | None = None,
    base_sha: str,
    branch: str,
    message: str,
    identity: Identity,
    policy: Policy,
    limits: PatchLimits | None = None,
    data_dir: Path,
    run_id: str,
    auth_header: str | None = None,
) -> PushedBranch:
    """Check ``patch`` against policy, commit it on ``base_sha`` and push it to ``branch``.

    ``source`` is the mirror (or a remote URL) cloned from; ``push_url`` is where the branch
    goes (default: ``source`` when it is a URL, else the mirror's remote). The clone lives
    under ``<data_dir>/patches/<run_id>`` and is removed afterwards. A retry that finds the
    branch already holding the same change on the same base reuses that commit.
    Returns the PushedBranch. Raises PatchRefused (with the reason) when the patch breaks
    policy or does not apply; GitError when git itself fails (e.g. the push); ValueError on a
    bad sha, branch or run id.
    """
    limits = limits or PatchLimits()
    if not _SHA_RE.match(base_sha):
        raise ValueError(f"{base_sha!r} is not a commit sha")
    if not _RUN_RE.match(run_id):
        raise ValueError(f"{run_id!r} is not a usable run id")
    if (
        not branch.startswith("factory/")
        or run_git(["check-ref-format", f"refs/heads/{branch}"], check=False).returncode
    ):
        raise ValueError(f"{branch!r} is not a valid factory/ branch name")
    url = push_url or (source.remote_url if isinstance(source, Mirror) else source)
    clone = Path(data_dir) / "patches" / run_id
    shutil.rmtree(clone, ignore_errors=True)
    clone.parent.mkdir(parents=True, exist_ok=True)
    try:
        precheck(patch, policy, limits, run_id)
        _clone(source, clone, base_sha, run_id, auth_header)
        _apply(clone, patch, run_id)
        files = _staged(clone, base_sha)
        check_staged(files, policy, limits, run_id)
        tree = git_out(["write-tree"], cwd=clone)
        commit = run_git(
            ["commit-tree", tree, "-p", base_sha, "-F", "-"],
            cwd=clone,
            input=clean_message(message, run_id).encode(),
            config={"user.name": identity.name, "user.email": identity.email},
        )
        sha = commit.stdout.decode().strip()
        sha = _push(clone, url, branch, sha, base_sha, auth_header)
    except PatchRefused as exc:
        log.info("patch_refused", run_id=run_id, reason=str(exc))
        raise
    finally:
        shutil.rmtree(clone, ignore_errors=True)
    log.info("patch_pushed", run_id=run_id, branch=branch, sha=sha, files=len(files))
    return PushedBranch(branch=branch, sha=sha, base_sha=base_sha, files=tuple(files))
