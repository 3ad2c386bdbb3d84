"""The bare mirror: cloned and fetched from a real bare remote on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.errors import GitError, WorkspaceError
from factory.workspace import Mirror, pull_ref
from tests.workspace.conftest import Remote, git


def test_fetch_creates_mirror_under_data_dir(data: Path, remote: Remote) -> None:
    """The first fetch clones the remote to <data>/mirrors/<owner>__<name>.git."""
    m = Mirror(data, "acme/widgets", str(remote.bare))
    m.fetch()
    assert git("rev-parse", "--is-bare-repository", cwd=m.path) == "true"
    assert m.path == data / "mirrors" / "acme__widgets.git"


def test_fetch_brings_branches_and_pull_heads(mirror: Mirror, remote: Remote) -> None:
    """Branches and refs/pull/N/head of the remote are in the mirror at the remote's shas."""
    refs = git("for-each-ref", "--format=%(refname) %(objectname)", cwd=mirror.path)
    assert set(refs.splitlines()) == {
        f"refs/heads/main {remote.shas['main']}",
        f"refs/heads/feature {remote.shas['feature']}",
        f"refs/pull/1/head {remote.shas['pr1']}",
    }


def test_fetch_picks_up_commit_pushed_later(mirror: Mirror, remote: Remote) -> None:
    """A commit pushed after the mirror was made is there after the next fetch."""
    new_sha = remote.commit({"later.txt": "later\n"}, "later", "main")
    mirror.fetch()
    assert mirror.resolve("main") == ("refs/heads/main", new_sha)


def test_fetch_picks_up_new_pull_request(mirror: Mirror, remote: Remote) -> None:
    """A pull request opened after the mirror was made is resolvable after the next fetch."""
    remote.push_ref(remote.shas["feature"], "refs/pull/2/head")
    mirror.fetch()
    assert mirror.resolve(pull_ref(2)) == ("refs/pull/2/head", remote.shas["feature"])


def test_fetch_prunes_deleted_branch(mirror: Mirror, remote: Remote) -> None:
    """A branch deleted on the remote disappears from the mirror on the next fetch."""
    git("push", "-q", "origin", "--delete", "feature", cwd=remote.work)
    mirror.fetch()
    with pytest.raises(WorkspaceError, match="feature"):
        mirror.resolve("feature")


def test_default_branch_is_remote_head(mirror: Mirror) -> None:
    """The mirror's default branch is the one the remote's HEAD names."""
    assert mirror.default_branch() == "refs/heads/main"


def test_resolve_unknown_ref_names_it(mirror: Mirror) -> None:
    """Resolving a ref the mirror lacks raises WorkspaceError naming the ref."""
    with pytest.raises(WorkspaceError, match="refs/pull/99/head"):
        mirror.resolve(pull_ref(99))


@pytest.mark.parametrize("ref", ["--upload-pack=touch x", "main:evil", "a b"], ids=str)
def test_resolve_rejects_option_like_or_malformed_ref(mirror: Mirror, ref: str) -> None:
    """A ref that looks like an option or is not a ref name is refused before git runs."""
    with pytest.raises(WorkspaceError, match="not a valid ref"):
        mirror.resolve(ref)


def test_reading_before_fetch_raises(data: Path, remote: Remote) -> None:
    """Using a mirror that was never fetched raises WorkspaceError."""
    m = Mirror(data, "acme/widgets", str(remote.bare))
    with pytest.raises(WorkspaceError, match="acme/widgets"), m.reading():
        pass


def test_fetch_from_missing_remote_raises_git_error(data: Path, tmp_path: Path) -> None:
    """Fetching from a remote that does not exist raises GitError and leaves no mirror."""
    m = Mirror(data, "acme/widgets", str(tmp_path / "nowhere.git"))
    with pytest.raises(GitError):
        m.fetch()
    assert sorted(p.name for p in (data / "mirrors").iterdir()) == ["acme__widgets.lock"]


@pytest.mark.parametrize("repo", ["widgets", "acme/../x", "a/b/c", ""], ids=repr)
def test_bad_repo_name_rejected(data: Path, repo: str) -> None:
    """The repository must be owner/name."""
    with pytest.raises(ValueError, match="owner/name"):
        Mirror(data, repo, "https://github.com/acme/widgets.git")


def test_remote_url_with_credentials_rejected(data: Path) -> None:
    """A token embedded in the URL is refused, since it would be written to .git/config."""
    with pytest.raises(ValueError, match="credentials"):
        Mirror(data, "acme/widgets", "https://x-access-token:ghp_abc@github.com/acme/widgets")


def test_clone_removes_leftover_from_crashed_clone(data: Path, remote: Remote) -> None:
    """A temporary directory left by a clone that crashed is removed by the next clone."""
    stale = data / "mirrors" / ".acme__widgets.git.tmp-crashed"
    stale.mkdir(parents=True)
    Mirror(data, "acme/widgets", str(remote.bare)).fetch()
    assert stale.exists() is False
