"""Whether an agent's patch may be committed: the checks, before and after ``git apply``.

``precheck`` reads the patch's headers only (size, file count, paths, modes, binary data): a
cheap first look that refuses most bad patches before any git runs. ``check_staged`` judges
what git actually staged from the patch (``ChangedFile`` records from ``git diff-index``):
that view is authoritative, so a header the first look misread cannot slip through.
Both raise ``PatchRefused`` with a reason that is shown to the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from factory.config.harness import Policy
from factory.errors import PatchRefused

_ALLOWED_MODES = frozenset({"100644", "100755"})
_MODE_LINE_RE = re.compile(
    rb"^(?:new file mode|deleted file mode|old mode|new mode|index [0-9a-f]+\.\.[0-9a-f]+)"
    rb" ?([0-7]*)$"
)


@dataclass(frozen=True)
class PatchLimits:
    """What a patch may contain before it is refused."""

    max_files: int = 100
    """Most files a patch may change."""
    max_bytes: int = 2 * 1024 * 1024
    """Largest patch, in bytes."""
    max_changed_lines: int | None = None
    """Most added + removed lines (None: no limit)."""
    allow_binary: bool = False
    """Whether binary files may be added or changed."""

    def __post_init__(self) -> None:
        if self.max_files < 1 or self.max_bytes < 1:
            raise ValueError("max_files and max_bytes must be at least 1")


@dataclass(frozen=True)
class ChangedFile:
    """One file as git staged it from the patch."""

    path: str
    """Repository-relative path."""
    status: str
    """A (added), M (modified), D (deleted), T (type changed)."""
    old_mode: str
    """Mode before (``000000`` when added)."""
    new_mode: str
    """Mode after (``000000`` when deleted)."""
    added: int
    """Lines added (0 for binary)."""
    deleted: int
    """Lines removed (0 for binary)."""
    binary: bool
    """Git sees the file as binary."""


def _unquote(raw: bytes) -> str:
    """Decode a path as git writes it in patch headers (C-quoted when odd)."""
    text = raw.decode("utf-8", "surrogateescape")
    if not (text.startswith('"') and text.endswith('"')):
        return text
    body = text[1:-1].encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    escapes = {ord("n"): 10, ord("t"): 9, ord('"'): 34, ord("\\"): 92, ord("a"): 7}
    escapes |= {ord("b"): 8, ord("f"): 12, ord("r"): 13, ord("v"): 11}
    while i < len(body):
        if body[i] == 92 and i + 1 < len(body):
            nxt = body[i + 1]
            octal = body[i + 1 : i + 4]
            if len(octal) == 3 and all(48 <= b <= 55 for b in octal):
                out.append(int(octal, 8) & 0xFF)
                i += 4
                continue
            out.append(escapes.get(nxt, nxt))
            i += 2
            continue
        out.append(body[i])
        i += 1
    return out.decode("utf-8", "surrogateescape")


def path_problem(path: str) -> str | None:
    """Return why ``path`` may never be written by an agent's patch, or None if it may."""
    if not path or path.startswith("/") or "\\" in path or "\0" in path:
        return "is not a plain relative path"
    for part in path.split("/"):
        name = part.rstrip(". ").lower()
        if part in ("", ".", ".."):
            return "is not a plain relative path"
        if name in (".git", "git~1"):
            return "is inside .git"
        if name in (".gitmodules", "gitmod~1"):
            return "is a .gitmodules file (submodules)"
    return None


def _header_paths(line: bytes) -> list[str]:
    for prefix in (b"rename from ", b"rename to ", b"copy from ", b"copy to "):
        if line.startswith(prefix):
            return [_unquote(line[len(prefix) :])]
    for prefix in (b"--- ", b"+++ "):
        if line.startswith(prefix):
            raw = line[len(prefix) :].split(b"\t")[0]
            path = _unquote(raw)
            if path == "/dev/null":
                return []
            return [path[2:] if path[:2] in ("a/", "b/") else path]
    return []


def precheck(patch: bytes, policy: Policy, limits: PatchLimits, run_id: str = "?") -> None:
    """Refuse ``patch`` from its headers alone; return None when it may be applied.

    A first, cheap look: the authoritative check runs on what git staged. Raises
    PatchRefused naming the run and the reason.
    """
    if not patch.strip():
        raise PatchRefused(f"run {run_id}: the patch is empty: there is nothing to commit")
    if len(patch) > limits.max_bytes:
        raise PatchRefused(
            f"run {run_id}: the patch is {len(patch)} bytes, more than {limits.max_bytes}"
        )
    files = 0
    in_header = False
    for line in patch.split(b"\n"):
        if line.startswith(b"diff --git "):
            files += 1
            in_header = True
            continue
        if not in_header:
            continue  # hunk or binary data: content, not headers
        if line.startswith(b"@@"):
            in_header = False
        elif line.startswith((b"GIT binary patch", b"Binary files ")):
            in_header = False
            if not limits.allow_binary:
                raise PatchRefused(f"run {run_id}: the patch contains binary files")
        elif m := _MODE_LINE_RE.match(line):
            mode = m.group(1).decode()
            deleting = line.startswith(b"deleted file mode")
            if mode and mode not in _ALLOWED_MODES and not deleting:
                what = {"120000": "a symlink", "160000": "a submodule"}.get(mode, f"mode {mode}")
                raise PatchRefused(f"run {run_id}: the patch contains {what}; that is refused")
        else:
            for path in _header_paths(line):
                _check_path(path, policy, run_id)
    if files > limits.max_files:
        raise PatchRefused(
            f"run {run_id}: the patch changes {files} files, more than {limits.max_files}"
        )


def _check_path(path: str, policy: Policy, run_id: str) -> None:
    if problem := path_problem(path):
        raise PatchRefused(f"run {run_id}: the patch writes {path!r}, which {problem}")
    if policy.is_protected(path):
        raise PatchRefused(f"run {run_id}: the patch touches protected path {path!r}")


def check_staged(
    files: list[ChangedFile], policy: Policy, limits: PatchLimits, run_id: str = "?"
) -> None:
    """Refuse the change git staged if it breaks policy; return None when it may be committed.

    Raises PatchRefused naming the run and the reason.
    """
    if not files:
        raise PatchRefused(f"run {run_id}: the patch changes nothing")
    if len(files) > limits.max_files:
        raise PatchRefused(
            f"run {run_id}: the patch changes {len(files)} files, more than {limits.max_files}"
        )
    for f in files:
        _check_path(f.path, policy, run_id)
        if f.new_mode == "120000":
            raise PatchRefused(f"run {run_id}: the patch makes {f.path!r} a symlink; refused")
        if f.new_mode == "160000":
            raise PatchRefused(f"run {run_id}: the patch makes {f.path!r} a submodule; refused")
        if f.new_mode not in (*_ALLOWED_MODES, "000000"):
            raise PatchRefused(f"run {run_id}: the patch gives {f.path!r} mode {f.new_mode}")
        if f.binary and not limits.allow_binary:
            raise PatchRefused(f"run {run_id}: the patch makes {f.path!r} binary; refused")
    total = sum(f.added + f.deleted for f in files)
    if limits.max_changed_lines is not None and total > limits.max_changed_lines:
        raise PatchRefused(
            f"run {run_id}: the patch changes {total} lines, more than {limits.max_changed_lines}"
        )
