"""JSON shapes of the fake GitHub's git-side objects: commits and branches (REST and webhooks)."""

from __future__ import annotations

from factory.testing.github_json import HTML, JSON, Renderer
from factory.testing.github_model import Repo

_NODE = "C_kwDOFAKE"


def commit(render: Renderer, repo: Repo, sha: str) -> JSON:
    """Return the ``commit`` object of ``sha`` (``GET /commits/{ref}``, status webhooks)."""
    info = repo.git.commit_info(sha)
    parents = repo.git.git("rev-list", "--parents", "-n", "1", sha).split()[1:]
    api = render.repo_url(repo)
    url = f"{api}/commits/{sha}"
    who = {"name": info["name"], "email": info["email"], "date": info["date"]}
    return {
        "sha": sha,
        "node_id": _NODE,
        "url": url,
        "html_url": f"{HTML}/{repo.full_name}/commit/{sha}",
        "comments_url": f"{url}/comments",
        "commit": {
            "message": info["message"].rstrip("\n"),
            "author": who,
            "committer": who,
            "tree": {"sha": info["tree"], "url": f"{api}/git/trees/{info['tree']}"},
            "url": f"{api}/git/commits/{sha}",
            "comment_count": 0,
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        },
        "author": None,
        "committer": None,
        "parents": [
            {
                "sha": p,
                "url": f"{api}/commits/{p}",
                "html_url": f"{HTML}/{repo.full_name}/commit/{p}",
            }
            for p in parents
        ],
    }


def branch(render: Renderer, repo: Repo, name: str, sha: str) -> JSON:
    """Return the ``branch-with-protection`` object (``GET /branches/{name}``), unprotected."""
    url = f"{render.repo_url(repo)}/branches/{name}"
    return {
        "name": name,
        "commit": commit(render, repo, sha),
        "_links": {"self": url, "html": f"{HTML}/{repo.full_name}/tree/{name}"},
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {
                "enforcement_level": "off",
                "contexts": [],
                "checks": [],
            },
        },
        "protection_url": f"{url}/protection",
    }
