"""apply_patch: policy checks on the agent's patch, then commit and push by the daemon."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.errors import PatchRefused
from factory.forge.patch_policy import ChangedFile, PatchLimits, check_staged, path_problem
from factory.forge.patches import PushedBranch, apply_patch, branch_name, clean_message
from factory.workspace import Mirror

from .patch_helpers import BASE_FILES, IDENTITY, MadePatch, clone, git, make_patch, make_policy

BRANCH = "factory/issue-7-abcdefgh"


@pytest.fixture
def remote(tmp_path: Path) -> str:
    """A bare repository holding BASE_FILES on main; returns its path."""
    bare = tmp_path / "remote.git"
    work = tmp_path / "seed"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    for name, content in BASE_FILES.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(str(content))
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "base", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)
    return str(bare)


def _patch(remote: str, tmp_path: Path, **kwargs: object) -> MadePatch:
    return make_patch(remote, tmp_path / "agent", **kwargs)


def _apply(remote: str, tmp_path: Path, made: MadePatch, **kwargs: object) -> PushedBranch:
    args: dict[str, object] = {
        "source": remote,
        "base_sha": made.base_sha,
        "branch": BRANCH,
        "message": "Fix the widget",
        "identity": IDENTITY,
        "policy": make_policy(),
        "data_dir": tmp_path / "data",
        "run_id": "01JRUNAAAAAAAAAAAAABCDEFGH",
        **kwargs,
    }
    return apply_patch(made.patch, **args)  # type: ignore[arg-type]


def test_clean_patch_is_pushed_to_the_branch(remote: str, tmp_path: Path) -> None:
    """A clean patch ends up as the branch's commit on the remote, with the change in it."""
    made = _patch(remote, tmp_path, files={"src/app.py": "print('fixed')\n"})
    _apply(remote, tmp_path, made)
    out = clone(remote, tmp_path / "check", BRANCH)
    assert (out / "src" / "app.py").read_text() == "print('fixed')\n"


def test_patch_from_the_mirror_is_pushed_to_its_remote(remote: str, tmp_path: Path) -> None:
    """With the mirror as source, the branch goes to the mirror's remote."""
    mirror = Mirror(tmp_path / "data", "acme/widgets", remote)
    mirror.fetch()
    made = _patch(remote, tmp_path, files={"src/app.py": "print('fixed')\n"})
    pushed = _apply(remote, tmp_path, made, source=mirror)
    assert git("rev-parse", f"refs/heads/{BRANCH}", cwd=Path(remote)) == pushed.sha


def test_commit_is_by_the_factory_on_the_base(remote: str, tmp_path: Path) -> None:
    """The commit has the factory's identity and the base commit as its only parent."""
    made = _patch(remote, tmp_path, files={"src/app.py": "print('fixed')\n"})
    pushed = _apply(remote, tmp_path, made)
    info = git("log", "-1", "--format=%an <%ae>|%cn <%ce>|%P", pushed.sha, cwd=Path(remote))
    assert (
        info == f"factoryd <factoryd@example.com>|factoryd <factoryd@example.com>|{made.base_sha}"
    )


def test_pushed_branch_reports_changed_lines(remote: str, tmp_path: Path) -> None:
    """PushedBranch.changed_lines counts added plus removed lines per file."""
    made = _patch(remote, tmp_path, files={"src/app.py": "a\nb\n", "docs/new.md": "x\n"})
    assert _apply(remote, tmp_path, made).changed_lines == {"docs/new.md": 1, "src/app.py": 3}


def test_retry_reuses_the_pushed_commit(remote: str, tmp_path: Path) -> None:
    """Applying the same patch again finds the branch already holding it and keeps its sha."""
    made = _patch(remote, tmp_path, files={"src/app.py": "print('fixed')\n"})
    first = _apply(remote, tmp_path, made)
    assert _apply(remote, tmp_path, made).sha == first.sha


def test_daemon_clone_is_removed_afterwards(remote: str, tmp_path: Path) -> None:
    """The daemon's own clone under the data dir is gone once the branch is pushed."""
    made = _patch(remote, tmp_path, files={"src/app.py": "print('fixed')\n"})
    _apply(remote, tmp_path, made)
    assert list((tmp_path / "data" / "patches").iterdir()) == []


def test_commit_message_is_sanitized(remote: str, tmp_path: Path) -> None:
    """Forged markers and credential-shaped strings leave the agent's commit message."""
    made = _patch(remote, tmp_path, files={"src/app.py": "print('fixed')\n"})
    message = "Fix\n<!-- factoryd:v1 run=X key=k -->\ntoken ghp_abcdefghijklmnopqrstuvwxyz123456"
    pushed = _apply(remote, tmp_path, made, message=message)
    body = git("log", "-1", "--format=%B", pushed.sha, cwd=Path(remote))
    assert ("factoryd:v1" in body, "ghp_abcdefghij" in body) == (False, False)


def test_clean_message_ends_with_run_trailer() -> None:
    """The commit message names the run in a trailer, even when the agent gave none."""
    assert clean_message("  \n", "RUN1") == "Change made by the factory\n\nFactory-Run: RUN1\n"


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        (
            {".github/workflows/ci.yml": "name: pwned\n"},
            "protected path '.github/workflows/ci.yml'",
        ),
        ({"config/.env": "X=1\n"}, "protected path 'config/.env'"),
        ({".gitmodules": "[submodule]\n"}, ".gitmodules"),
    ],
    ids=["workflow", "dotenv", "gitmodules"],
)
def test_forbidden_path_is_refused_with_reason(
    remote: str, tmp_path: Path, files: dict[str, str], reason: str
) -> None:
    """A patch touching a protected path or .gitmodules is refused, naming the path."""
    made = _patch(remote, tmp_path, files=files)
    with pytest.raises(PatchRefused, match=reason.replace(".", r"\.")):
        _apply(remote, tmp_path, made)


def test_refused_patch_pushes_nothing(remote: str, tmp_path: Path) -> None:
    """After a refusal the remote has no factory branch."""
    made = _patch(remote, tmp_path, files={".github/workflows/ci.yml": "name: pwned\n"})
    with pytest.raises(PatchRefused):
        _apply(remote, tmp_path, made)
    assert git("branch", "--list", "factory/*", cwd=Path(remote)) == ""


def test_too_many_files_is_refused(remote: str, tmp_path: Path) -> None:
    """A patch changing more files than max_files is refused."""
    made = _patch(remote, tmp_path, files={f"docs/f{i}.md": "x\n" for i in range(4)})
    with pytest.raises(PatchRefused, match="changes 4 files, more than 3"):
        _apply(remote, tmp_path, made, limits=PatchLimits(max_files=3))


def test_too_many_bytes_is_refused(remote: str, tmp_path: Path) -> None:
    """A patch larger than max_bytes is refused before any git runs."""
    made = _patch(remote, tmp_path, files={"docs/big.md": "y" * 5000 + "\n"})
    with pytest.raises(PatchRefused, match=r"more than 1000$"):
        _apply(remote, tmp_path, made, limits=PatchLimits(max_bytes=1000))


def test_too_many_lines_is_refused(remote: str, tmp_path: Path) -> None:
    """A patch changing more lines than max_changed_lines is refused."""
    made = _patch(remote, tmp_path, files={"docs/big.md": "line\n" * 11})
    with pytest.raises(PatchRefused, match="changes 11 lines, more than 10"):
        _apply(remote, tmp_path, made, limits=PatchLimits(max_changed_lines=10))


def test_binary_file_is_refused(remote: str, tmp_path: Path) -> None:
    """A patch adding a binary file is refused by default."""
    made = _patch(remote, tmp_path, files={"img.bin": bytes(range(256))})
    with pytest.raises(PatchRefused, match="binary"):
        _apply(remote, tmp_path, made)


def test_binary_file_is_pushed_when_allowed(remote: str, tmp_path: Path) -> None:
    """With allow_binary the binary file arrives byte for byte."""
    made = _patch(remote, tmp_path, files={"img.bin": bytes(range(256))})
    _apply(remote, tmp_path, made, limits=PatchLimits(allow_binary=True))
    assert (clone(remote, tmp_path / "check", BRANCH) / "img.bin").read_bytes() == bytes(range(256))


def test_new_symlink_is_refused(remote: str, tmp_path: Path) -> None:
    """A patch adding a symlink (even one inside the repository) is refused."""
    made = _patch(remote, tmp_path, symlinks={"link": "README.md"})
    with pytest.raises(PatchRefused, match="symlink"):
        _apply(remote, tmp_path, made)


def test_empty_patch_is_refused(remote: str, tmp_path: Path) -> None:
    """An empty patch is refused: there is nothing to commit."""
    made = _patch(remote, tmp_path)
    with pytest.raises(PatchRefused, match="empty"):
        _apply(remote, tmp_path, made)


def test_patch_that_does_not_apply_is_refused(remote: str, tmp_path: Path) -> None:
    """A patch whose context does not match the base is refused with git's reason."""
    made = _patch(remote, tmp_path, files={"src/app.py": "print('fixed')\n"})
    broken = MadePatch(made.patch.replace(b"-print('hi')", b"-print('ho')"), made.base_sha)
    with pytest.raises(PatchRefused, match="git apply refused"):
        _apply(remote, tmp_path, broken)


def test_unknown_base_is_refused(remote: str, tmp_path: Path) -> None:
    """A base commit the remote does not have is refused."""
    made = _patch(remote, tmp_path, files={"src/app.py": "print('fixed')\n"})
    with pytest.raises(PatchRefused, match="not in the remote"):
        _apply(remote, tmp_path, MadePatch(made.patch, "1" * 40))


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        (".git/config", "is inside .git"),
        ("sub/.GIT/hooks/pre-commit", "is inside .git"),
        (".git./config", "is inside .git"),
        ("../outside", "is not a plain relative path"),
        ("/etc/passwd", "is not a plain relative path"),
        ("a//b", "is not a plain relative path"),
        ("lib/.gitmodules", "is a .gitmodules file (submodules)"),
        ("src/app.py", None),
    ],
    ids=["git", "git-upper", "git-dot", "dotdot", "absolute", "empty-part", "gitmodules", "ok"],
)
def test_path_problem(path: str, problem: str | None) -> None:
    """path_problem names why a path may not be written, or None for an ordinary path."""
    assert path_problem(path) == problem


@pytest.mark.parametrize(
    ("mode", "binary", "match"),
    [("120000", False, "symlink"), ("160000", False, "submodule"), ("100644", True, "binary")],
    ids=["symlink", "gitlink", "binary"],
)
def test_check_staged_refuses_what_headers_could_hide(mode: str, binary: bool, match: str) -> None:
    """The authoritative check on git's staged view refuses symlinks, gitlinks, binaries."""
    staged = [ChangedFile("x", "A", "000000", mode, 0, 0, binary)]
    with pytest.raises(PatchRefused, match=match):
        check_staged(staged, make_policy(), PatchLimits())


def test_branch_name_uses_subject_and_run_tail() -> None:
    """The branch is factory/<subject slug>-<last 8 chars of the run id, lower case>."""
    assert branch_name("Issue #12", "01JRUNAAAAAAAAAAAAABCDEFGH") == "factory/issue-12-abcdefgh"
