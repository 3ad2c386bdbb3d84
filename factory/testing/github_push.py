"""The ``push`` webhook FakeGitHub sends when a merge moves a branch, as GitHub does.

GitHub sends one ``push`` for every ref update, a merge through the API included: ``ref``,
``before``/``after``, the commits between them (the merge commit, for a merge or a squash),
``head_commit``, ``pusher`` and the merger as ``sender``.
"""

from __future__ import annotations

from typing import Any

from factory.testing.github_json import HTML, JSON
from factory.testing.github_model import Repo

ZERO = "0" * 40


def _commit(repo: Repo, sha: str, login: str, files: dict[str, list[str]]) -> JSON:
    info = repo.git.commit_info(sha)
    person = {"name": info["name"], "email": info["email"], "username": login}
    return {
        "id": sha,
        "tree_id": info["tree"],
        "distinct": True,
        "message": info["message"].rstrip("\n"),
        "timestamp": info["date"],
        "url": f"{HTML}/{repo.full_name}/commit/{sha}",
        "author": person,
        "committer": person,
        **files,
    }


def _files(repo: Repo, before: str, after: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"added": [], "removed": [], "modified": []}
    names = repo.git.git("diff", "--name-status", "--no-renames", before, after).splitlines()
    for line in names:
        code, _, path = line.partition("\t")
        key = {"A": "added", "D": "removed"}.get(code[:1], "modified")
        out[key].append(path)
    return out


def push_payload(repo: Repo, branch: str, before: str, after: str, login: str) -> dict[str, Any]:
    """Return the ``push`` payload of ``branch`` moving from ``before`` to ``after`` by one
    commit (a merge's); ``repository`` and ``sender`` are added by ``Hub.emit``."""
    commit = _commit(repo, after, login, _files(repo, before, after))
    return {
        "ref": f"refs/heads/{branch}",
        "before": before or ZERO,
        "after": after,
        "created": not before,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": f"{HTML}/{repo.full_name}/compare/{before[:12]}...{after[:12]}",
        "commits": [commit],
        "head_commit": commit,
        "pusher": {"name": login, "email": None},
    }
