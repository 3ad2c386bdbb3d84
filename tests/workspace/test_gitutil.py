"""The hardened host git runner."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from factory.errors import GitError
from factory.workspace.gitutil import git_env, git_out, github_auth_header, run_git
from tests.workspace.conftest import git


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty non-bare repository."""
    path = tmp_path / "repo"
    git("init", "-q", str(path), cwd=tmp_path)
    return path


def test_parent_git_dir_does_not_leak(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIT_DIR in the daemon's environment does not redirect the daemon's git."""
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere.git"))
    assert git_out(["rev-parse", "--absolute-git-dir"], cwd=repo) == str(repo / ".git")


def test_global_config_is_not_read(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ~/.gitconfig of the daemon's user is ignored."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = leaked\n")
    monkeypatch.setenv("HOME", str(home))
    proc = run_git(["config", "user.name"], cwd=repo, check=False)
    assert (proc.returncode, proc.stdout) == (1, b"")


def test_hooks_are_disabled(repo: Path, tmp_path: Path) -> None:
    """A hook in the repository does not run under the hardened runner."""
    marker = tmp_path / "marker"
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    run_git(
        ["commit", "-q", "--allow-empty", "-m", "x"],
        cwd=repo,
        config={"user.name": "d", "user.email": "d@localhost"},
    )
    assert marker.exists() is False


def test_auth_header_travels_in_env_not_argv() -> None:
    """The auth header is passed as GIT_CONFIG_* environment, as http.extraHeader."""
    env = git_env(auth_header="Authorization: Basic abc")
    pairs = {
        env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"]
        for i in range(int(env["GIT_CONFIG_COUNT"]))
    }
    assert pairs["http.extraHeader"] == "Authorization: Basic abc"


def test_hardening_cannot_be_overridden() -> None:
    """Config that would undo the hardening is refused."""
    with pytest.raises(ValueError, match=r"core\.hooksPath"):
        git_env(config={"core.hooksPath": ".git/hooks"})


def test_failure_raises_git_error_with_code(tmp_path: Path) -> None:
    """A failing git command raises GitError carrying its exit code."""
    with pytest.raises(GitError) as info:
        run_git(["rev-parse", "HEAD"], cwd=tmp_path)
    assert info.value.returncode == 128


def test_error_message_redacts_auth_header(repo: Path) -> None:
    """If git echoes the header in an error, GitError's message does not carry it."""
    header = "Authorization: Basic c2VjcmV0"
    with pytest.raises(GitError) as info:
        # "key does not contain a section: <arg>": git echoes the argument into stderr.
        run_git(["config", "--get", header], cwd=repo, auth_header=header)
    assert ("[redacted]" in str(info.value), header in str(info.value)) == (True, False)


def test_github_auth_header_is_basic_x_access_token() -> None:
    """The GitHub header is Basic auth of x-access-token:<token>."""
    header = github_auth_header("tok")
    assert header == "Authorization: Basic " + "eC1hY2Nlc3MtdG9rZW46dG9r"


def test_plain_git_would_read_global_config(tmp_path: Path) -> None:
    """Control: plain git with the same HOME does read ~/.gitconfig."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = leaked\n")
    out = subprocess.run(
        ["git", "config", "--global", "user.name"],
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
    )
    assert out.stdout == b"leaked\n"
