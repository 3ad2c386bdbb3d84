"""Routes of the fake GitHub for commit statuses, check runs and suites, GitHub App tokens.

Check suites: every check run belongs to its App's suite on its commit; a suite can also
exist with no runs yet (queued), as GitHub creates them on a push before the App starts.

App tokens: ``POST /app/installations/{id}/access_tokens`` needs a bearer JWT
whose ``iss`` is the registered app id (and, when a public key was registered,
a valid RS256 signature); the token it returns authenticates as ``<slug>[bot]``
until its ``expires_at``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import jwt

from factory.testing.github_http import Reply, Request, Router, paginate
from factory.testing.github_json_accounts import installation
from factory.testing.github_json_checks import app as app_json
from factory.testing.github_json_checks import app_id_of, check_run, check_suite
from factory.testing.github_json_checks import status as status_json
from factory.testing.github_json_git import commit
from factory.testing.github_model import ApiError, CheckSuite, Token, not_found, suite_runs
from factory.testing.github_pulls import combined_status, create_status, save_check_run

router = Router()
_T = TypeVar("_T")


@router.add("POST", "/statuses/(?P<sha>[0-9a-fA-F]{4,40})")
def post_status(req: Request) -> Reply:
    """POST /statuses/{sha} {state, context, description, target_url}: 201."""
    status = create_status(req.hub, req.repo, req.params["sha"], req.login, req.data())
    body = status_json(req.hub.render, req.repo, status)
    return Reply(201, body, {"location": body["url"]})


@router.add("GET", "/commits/(?P<ref>.+)/status")
def get_combined(req: Request) -> Reply:
    """GET /commits/{ref}/status: the combined state, latest status per context."""
    return Reply(body=combined_status(req.hub, req.repo, req.params["ref"]))


@router.add("GET", "/commits/(?P<ref>.+)/statuses")
def list_statuses(req: Request) -> Reply:
    """GET /commits/{ref}/statuses: every status, newest first."""
    sha = req.repo.git.resolve(req.params["ref"])
    items = [s for s in reversed(req.repo.statuses) if s.sha == sha]
    return paginate(req, [status_json(req.hub.render, req.repo, s) for s in items])


@router.add("POST", "/check-runs")
def post_check_run(req: Request) -> Reply:
    """POST /check-runs {name, head_sha, status, conclusion, output}: 201."""
    run = save_check_run(req.hub, req.repo, req.login, req.data())
    return Reply(201, check_run(req.hub.render, req.repo, run))


def _by_id(req: Request, items: Iterable[_T]) -> _T:
    """Return the item whose ``id`` is the route's ``id``; 404 if there is none."""
    wanted = int(req.params["id"])
    for item in items:
        if getattr(item, "id", None) == wanted:
            return item
    raise not_found()


def _run(req: Request) -> Any:
    return _by_id(req, req.repo.check_runs)


@router.add("GET", r"/check-runs/(?P<id>\d+)")
def get_check_run(req: Request) -> Reply:
    """GET /check-runs/{id} (its ``output.text`` carries the failing log)."""
    return Reply(body=check_run(req.hub.render, req.repo, _run(req)))


@router.add("PATCH", r"/check-runs/(?P<id>\d+)")
def patch_check_run(req: Request) -> Reply:
    """PATCH /check-runs/{id}: update status, conclusion, output."""
    run = save_check_run(req.hub, req.repo, req.login, req.data(), _run(req))
    return Reply(body=check_run(req.hub.render, req.repo, run))


@router.add("GET", "/commits/(?P<ref>.+)/check-runs")
def list_check_runs(req: Request) -> Reply:
    """GET /commits/{ref}/check-runs (check_name, status filters): total_count, check_runs."""
    sha = req.repo.git.resolve(req.params["ref"])
    name, status = req.arg("check_name"), req.arg("status")
    runs = [
        r
        for r in reversed(req.repo.check_runs)
        if r.head_sha == sha and (not name or r.name == name) and (not status or r.status == status)
    ]
    page = paginate(req, [check_run(req.hub.render, req.repo, r) for r in runs])
    page.body = {"total_count": len(runs), "check_runs": page.body}
    return page


@router.add("GET", "/commits/(?P<ref>.+)/check-suites")
def list_check_suites(req: Request) -> Reply:
    """GET /commits/{ref}/check-suites (app_id, check_name filters): total_count, check_suites."""
    sha = req.repo.git.resolve(req.params["ref"])
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {req.params['ref']}")
    app_id, name = req.arg("app_id"), req.arg("check_name")
    suites = [
        s
        for s in req.repo.check_suites
        if s.head_sha == sha
        and (not app_id or app_id == str(app_id_of(s.app_slug)))
        and (not name or any(r.name == name for r in suite_runs(req.repo, s)))
    ]
    page = paginate(req, [check_suite(req.hub.render, req.repo, s) for s in suites])
    page.body = {"total_count": len(suites), "check_suites": page.body}
    return page


def _suite(req: Request) -> CheckSuite:
    return _by_id(req, req.repo.check_suites)


@router.add("GET", r"/check-suites/(?P<id>\d+)")
def get_check_suite(req: Request) -> Reply:
    """GET /check-suites/{id}: one suite, its status and conclusion following its runs."""
    return Reply(body=check_suite(req.hub.render, req.repo, _suite(req)))


# -- GitHub App -------------------------------------------------------------------


def _check_jwt(req: Request) -> None:
    app = req.hub.app
    if req.bearer is None or app is None:
        raise ApiError(401, "A JSON web token could not be decoded")
    try:
        if app.public_key:
            claims = jwt.decode(
                req.bearer, app.public_key, algorithms=["RS256"], options={"verify_iat": False}
            )
        else:
            claims = jwt.decode(req.bearer, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise ApiError(401, "A JSON web token could not be decoded") from exc
    if str(claims.get("iss")) != str(app.app_id):
        raise ApiError(401, f"'Issuer' claim ('iss') must be an Integer: {app.app_id}")


@router.add("GET", "/app", repo=False)
def get_app(req: Request) -> Reply:
    """GET /app: the registered app (JWT auth)."""
    _check_jwt(req)
    app = req.hub.app
    assert app is not None
    return Reply(body=app_json(req.hub.render, app))


@router.add("GET", "/installation")
def get_installation(req: Request) -> Reply:
    """GET /repos/{o}/{r}/installation (JWT auth): the repo's installation id."""
    _check_jwt(req)
    app = req.hub.app
    assert app is not None
    return Reply(body=installation(req.hub.render, req.repo, app))


@router.add("POST", r"/app/installations/(?P<id>\d+)/access_tokens", repo=False)
def create_access_token(req: Request) -> Reply:
    """POST /app/installations/{id}/access_tokens (JWT auth): 201 {token, expires_at}."""
    _check_jwt(req)
    app = req.hub.app
    assert app is not None
    installation = int(req.params["id"])
    if not any(r.installation_id == installation for r in req.hub.repos.values()):
        raise not_found()
    expires = datetime.now(UTC) + timedelta(seconds=app.token_ttl_s)
    token = f"ghs_{secrets.token_hex(18)}"
    login = f"{app.slug}[bot]"
    if login not in req.hub.users:
        req.hub.add_user(login, None, "write", "Bot")
    req.hub.tokens[token] = Token(login=login, expires_at=expires, installation_id=installation)
    return Reply(
        201,
        {
            "token": token,
            "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "permissions": {"issues": "write", "pull_requests": "write", "contents": "write"},
            "repository_selection": "all",
        },
    )


@router.add("GET", "/commits/(?P<ref>[^/]+(?:/[^/]+)*)")
def get_commit(req: Request) -> Reply:
    """GET /commits/{ref}: sha, message, author, parents (no file list)."""
    sha = req.repo.git.resolve(req.params["ref"])
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {req.params['ref']}")
    return Reply(body=commit(req.hub.render, req.repo, sha))
