"""Routes of the fake GitHub for the git data API: commits and trees as raw git objects.

``POST /git/commits`` writes a real commit object into the bare repository (no ref
moves); ``GET /git/commits/{sha}`` and ``GET /git/trees/{sha}`` read objects back.
Answers follow GitHub's shapes and its 404/422 messages.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from factory.testing.github_git import BareRepo
from factory.testing.github_http import Reply, Request, Router
from factory.testing.github_model import ApiError, Repo, not_found, now_iso

router = Router()
_DOCS = "https://docs.github.com/rest/git"
_SHA = "[0-9a-fA-F]{40}"


def _person(value: Any, login: str, when: str) -> dict[str, str]:
    given = value if isinstance(value, dict) else {}
    return {
        "name": str(given.get("name") or login),
        "email": str(given.get("email") or f"{login}@users.noreply.github.com"),
        "date": str(given.get("date") or when),
    }


def _commit_tree(
    git: BareRepo,
    tree: str,
    parents: list[str],
    message: str,
    author: dict[str, str],
    committer: dict[str, str],
) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": author["name"],
        "GIT_AUTHOR_EMAIL": author["email"],
        "GIT_AUTHOR_DATE": author["date"],
        "GIT_COMMITTER_NAME": committer["name"],
        "GIT_COMMITTER_EMAIL": committer["email"],
        "GIT_COMMITTER_DATE": committer["date"],
    }
    args = ["git", "--git-dir", str(git.path), "commit-tree", tree, "-F", "-"]
    for parent in parents:
        args += ["-p", parent]
    proc = subprocess.run(args, input=message.encode(), capture_output=True, env=env, check=False)
    if proc.returncode != 0:
        raise ApiError(422, "Could not create the commit", documentation_url=f"{_DOCS}/commits")
    return proc.stdout.decode().strip()


def commit_json(req: Request, repo: Repo, sha: str) -> dict[str, Any]:
    """Return the git commit object ``sha`` as GitHub renders it (``/git/commits/{sha}``)."""
    git = repo.git
    out = git.git("show", "-s", "--format=%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI", sha)
    tree, parents, an, ae, ad, cn, ce, cd = out.split("\x00")
    message = git.git("cat-file", "commit", sha).split("\n\n", 1)
    api = req.hub.render.repo_url(repo)
    web = f"https://github.com/{repo.full_name}/commit"
    return {
        "sha": sha,
        "node_id": "C_kwDOFAKE",
        "url": f"{api}/git/commits/{sha}",
        "html_url": f"{web}/{sha}",
        "author": {"name": an, "email": ae, "date": ad},
        "committer": {"name": cn, "email": ce, "date": cd},
        "tree": {"sha": tree, "url": f"{api}/git/trees/{tree}"},
        "message": message[1] if len(message) > 1 else "",
        "parents": [
            {"sha": p, "url": f"{api}/git/commits/{p}", "html_url": f"{web}/{p}"}
            for p in parents.split()
        ],
        "verification": {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        },
    }


@router.add("POST", "/git/commits")
def create_commit(req: Request) -> Reply:
    """POST /git/commits {message, tree, parents, author, committer}: 201 with the commit."""
    d = req.data()
    git = req.repo.git
    login = req.login
    message, tree = d.get("message"), str(d.get("tree") or "")
    parents = d.get("parents") or []
    docs = f"{_DOCS}/commits#create-a-commit"
    if not isinstance(message, str) or not isinstance(parents, list):
        raise ApiError(422, "Invalid request.", documentation_url=docs)
    if git.object_type(tree) != "tree":
        raise ApiError(422, "Tree SHA does not exist", documentation_url=docs)
    for parent in parents:
        if git.object_type(str(parent)) != "commit":
            raise ApiError(
                422, "Parent SHA does not exist or is not a commit object", documentation_url=docs
            )
    when = now_iso()
    author = _person(d.get("author"), login, when)
    committer = _person(d.get("committer"), login, when) if d.get("committer") else author
    sha = _commit_tree(git, tree, [str(p) for p in parents], message, author, committer)
    body = commit_json(req, req.repo, sha)
    return Reply(201, body, {"location": body["url"]})


@router.add("GET", f"/git/commits/(?P<sha>{_SHA})")
def get_commit(req: Request) -> Reply:
    """GET /git/commits/{sha}: the commit object; 404 when it is not a commit."""
    sha = req.params["sha"].lower()
    if req.repo.git.object_type(sha) != "commit":
        raise not_found()
    return Reply(body=commit_json(req, req.repo, sha))


@router.add("GET", f"/git/trees/(?P<sha>{_SHA})")
def get_tree(req: Request) -> Reply:
    """GET /git/trees/{sha}[?recursive=1]: entries (path, mode, type, sha, size)."""
    git = req.repo.git
    sha = req.params["sha"].lower()
    kind = git.object_type(sha)
    if kind == "commit":
        sha = git.git("rev-parse", f"{sha}^{{tree}}")
    elif kind != "tree":
        raise not_found()
    recursive = req.arg("recursive") not in (None, "", "0", "false")
    api = req.hub.render.repo_url(req.repo)
    entries = []
    listing = git.git("ls-tree", "-l", *(["-r", "-t"] if recursive else []), sha)
    for line in listing.splitlines():
        meta, path = line.split("\t", 1)
        mode, otype, osha, size = meta.split()
        entry: dict[str, Any] = {"path": path, "mode": mode, "type": otype, "sha": osha}
        if otype == "blob":
            entry["size"] = int(size)
        entry["url"] = f"{api}/git/{otype}s/{osha}"
        entries.append(entry)
    return Reply(
        body={"sha": sha, "url": f"{api}/git/trees/{sha}", "tree": entries, "truncated": False}
    )
