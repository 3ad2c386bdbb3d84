"""JSON shapes of the fake GitHub's accounts: full user profiles and App installations."""

from __future__ import annotations

from factory.testing.github_json import HTML, JSON, Renderer
from factory.testing.github_json_checks import APP_EVENTS, APP_PERMISSIONS
from factory.testing.github_model import AppConfig, Repo

_CREATED = "2020-01-01T00:00:00Z"


def profile(render: Renderer, login: str, private: bool = False) -> JSON:
    """Return the profile of ``login`` (``GET /users/{u}``); ``private`` for ``GET /user``."""
    body = render.user(login)
    assert body is not None
    body.update(
        {
            "user_view_type": "private" if private else "public",
            "name": None,
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": _CREATED,
            "updated_at": _CREATED,
        }
    )
    if private:
        body.update(
            {
                "private_gists": 0,
                "total_private_repos": 0,
                "owned_private_repos": 0,
                "disk_usage": 0,
                "collaborators": 0,
                "two_factor_authentication": False,
            }
        )
    return body


def installation(render: Renderer, repo: Repo, config: AppConfig) -> JSON:
    """Return the ``installation`` object of ``config``'s App on ``repo``."""
    owner = render.user(repo.owner)
    assert owner is not None
    return {
        "id": repo.installation_id,
        "account": owner,
        "repository_selection": "all",
        "access_tokens_url": f"{render.api}/app/installations/{repo.installation_id}/access_tokens",
        "repositories_url": f"{render.api}/installation/repositories",
        "html_url": f"{HTML}/organizations/{repo.owner}/settings/installations/"
        f"{repo.installation_id}",
        "app_id": config.app_id,
        "app_slug": config.slug,
        "target_id": owner["id"],
        "target_type": "Organization",
        "permissions": dict(APP_PERMISSIONS),
        "events": list(APP_EVENTS),
        "created_at": _CREATED,
        "updated_at": _CREATED,
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }
