"""The GitHub client: PyGithub with our auth, base URL, bounded rate-limit retries and pacing.

Auth is a personal access token (``Auth.Token``) or a GitHub App installation
(``Auth.AppAuth(...).get_installation_auth(id)``); PyGithub fetches the installation
token on first use and fetches a fresh one when the current one is within 20 s of
expiry, so long-running daemons never hold a stale token.

Rate limits are handled inside PyGithub's transport by ``FactoryRetry`` (a ``GithubRetry``)
the way GitHub asks: a 403/429 with ``retry-after`` (a secondary limit) waits that long; a
403/429 with ``x-ratelimit-remaining: 0`` and no ``retry-after`` (a spent primary limit)
waits until ``x-ratelimit-reset`` (+1 s). Installed PyGithub alone waits out only the 403s
and raises a 429 at once. A wait longer than ``max_rate_limit_wait`` is not slept: it raises
``GitHubRateLimited`` at once, which the runner treats as "pause the run, re-queue it for
the reset", not as a failure. Retries are bounded by ``max_retries``; when they run out the
last GitHub answer is raised by PyGithub (``RateLimitExceededException`` for a 403).
Writes are paced ``seconds_between_writes`` apart, as GitHub asks of integrators, to stay
clear of secondary limits.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import structlog
from github import Auth, Github, GithubIntegration, GithubRetry
from github.GithubException import RateLimitExceededExceedsMaxWait
from github.Repository import Repository
from urllib3 import Retry
from urllib3.connectionpool import ConnectionPool
from urllib3.response import HTTPResponse

from factory.errors import ForgeError, GitHubRateLimited
from factory.logs import redactor
from factory.settings import Settings
from factory.workspace.gitutil import github_auth_header

log = structlog.get_logger(__name__)

DEFAULT_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class Pacing:
    """How the client spaces requests and retries rate-limited ones."""

    seconds_between_writes: float = 1.0
    """Least time between two writes (POST/PATCH/PUT/DELETE); 0 disables (tests)."""
    seconds_between_requests: float = 0.0
    """Least time between any two requests; 0 disables."""
    max_retries: int = 3
    """Most retries of one request (rate limits and 5xx) before its error is raised."""
    max_rate_limit_wait: float = 300.0
    """Longest single wait for a rate-limit reset; longer waits raise GitHubRateLimited at once."""
    backoff_factor: float = 0.5
    """Exponential backoff base between retries that carry no ``retry-after`` (0: none)."""
    timeout_s: int = 30
    """Socket timeout of one request."""

    def __post_init__(self) -> None:
        if self.seconds_between_writes < 0 or self.seconds_between_requests < 0:
            raise ValueError("pacing intervals must be >= 0")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")


SECONDARY_WAIT_S = 60.0
"""GitHub's advice for a secondary limit that names no wait: at least a minute."""


def header(headers: Mapping[str, Any], name: str) -> str | None:
    """Return header ``name`` of ``headers`` whatever its case, or None."""
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def rate_limit_wait(
    status: int, headers: Mapping[str, Any], now: float | None = None
) -> float | None:
    """Return the seconds GitHub asks to wait before retrying, or None for no rate limit.

    Judged from the status and headers alone, as GitHub documents them: 403/429 with
    ``retry-after`` → that many seconds; with ``x-ratelimit-remaining: 0`` → until
    ``x-ratelimit-reset`` plus 1 s (the reset falls somewhere in that second); any other
    429 → a minute. A 403 without those headers is left to its body (may be no limit).
    """
    if status not in (403, 429):
        return None
    retry_after = header(headers, "retry-after")
    if retry_after is not None and retry_after.strip().isdigit():
        return float(retry_after.strip())
    if header(headers, "x-ratelimit-remaining") == "0":
        reset = header(headers, "x-ratelimit-reset")
        if reset is not None and reset.strip().isdigit():
            now = time.time() if now is None else now
            return max(int(reset) - now, 0.0) + 1.0
        return SECONDARY_WAIT_S
    return SECONDARY_WAIT_S if status == 429 else None


class FactoryRetry(GithubRetry):
    """``GithubRetry`` that also waits out 429s and never sleeps past ``max_rate_limit_wait``."""

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: HTTPResponse | None = None,  # type: ignore[override]
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Retry:
        """Return the next retry; raises GitHubRateLimited for a wait beyond the bound."""
        wait = rate_limit_wait(response.status, response.headers) if response else None
        request = f"{method} {urlsplit(url or '').path}"
        resource = header(response.headers, "x-ratelimit-resource") if response else None
        remaining = header(response.headers, "x-ratelimit-remaining") if response else None
        named = resource if remaining == "0" else None  # a primary limit names its resource
        if wait is None:
            try:  # 5xx, errors, and 403s that only their body can tell (GithubRetry reads it)
                return super().increment(method, url, response, error, _pool, _stacktrace)
            except RateLimitExceededExceedsMaxWait as exc:
                raise GitHubRateLimited(request, exc.wait or 0.0, None) from exc
        if self.max_rate_limit_wait is not None and wait > self.max_rate_limit_wait:
            log.warning("github_rate_limited", request=request, wait_s=round(wait), resource=named)
            raise GitHubRateLimited(request, wait, named)
        retry = Retry.increment(self, method, url, response, error, _pool, _stacktrace)
        backoff = max(wait, retry.get_backoff_time())
        retry.get_backoff_time = lambda: backoff  # type: ignore[method-assign]
        log.info("github_rate_limit_wait", request=request, wait_s=round(wait, 1), resource=named)
        return retry


def make_retry(pacing: Pacing) -> GithubRetry:
    """Return the bounded ``FactoryRetry`` used by every client.

    GET, POST and PATCH are retried too (a rate-limited request was not performed, and
    our POST/PATCH writes are made idempotent by markers and compare-and-swap refs).
    When retries run out the last response is returned, so PyGithub raises its own
    exception for it (``RateLimitExceededException`` for a 403 rate limit).
    """
    methods = frozenset({"HEAD", "GET", "PUT", "DELETE", "OPTIONS", "TRACE", "POST", "PATCH"})
    return FactoryRetry(
        total=pacing.max_retries,
        backoff_factor=pacing.backoff_factor,
        backoff_max=30,
        max_rate_limit_wait=pacing.max_rate_limit_wait,
        allowed_methods=methods,
        status_forcelist=[*range(500, 600), 429],
        raise_on_status=False,
    )


def make_auth(settings: Settings) -> Auth.Token | Auth.AppInstallationAuth:
    """Return the auth that ``settings`` configure: the App if set, else the token.

    Raises ForgeError when neither is configured or the App's private key cannot be read.
    """
    if settings.github_app_id is not None:
        key_path = settings.github_app_private_key_path
        installation = settings.github_app_installation_id
        if key_path is None or installation is None:
            raise ForgeError(f"GitHub App {settings.github_app_id} needs a key and installation")
        return app_auth(settings.github_app_id, key_path, installation)
    if settings.github_token is not None:
        return Auth.Token(settings.github_token.get_secret_value())
    raise ForgeError("no GitHub credentials: set GITHUB_TOKEN or the GITHUB_APP_* settings")


def app_jwt_auth(app_id: int, private_key: str | Path) -> Auth.AppAuth:
    """Return the JWT auth of App ``app_id`` (``private_key``: PEM text or a PEM file).

    Raises ForgeError when the key file cannot be read.
    """
    if isinstance(private_key, Path):
        try:
            pem = private_key.read_text()
        except OSError as exc:
            raise ForgeError(f"GitHub App {app_id}: cannot read private key {private_key}") from exc
    else:
        pem = private_key
    return Auth.AppAuth(app_id, pem)


def app_auth(
    app_id: int, private_key: str | Path, installation_id: int
) -> Auth.AppInstallationAuth:
    """Return installation auth for App ``app_id`` (``private_key``: PEM text or a PEM file).

    Raises ForgeError when the key file cannot be read.
    """
    return app_jwt_auth(app_id, private_key).get_installation_auth(installation_id)


def app_bot_login(
    app_id: int, private_key: str | Path, base_url: str, pacing: Pacing | None = None
) -> str:
    """Return the login App ``app_id`` writes as, ``<slug>[bot]``, from ``GET /app`` (JWT).

    An installation token has no user (GitHub answers ``GET /user`` with 403), so this is
    how an App learns its own login. Raises ForgeError for an unreadable key, PyGithub's
    GithubException when GitHub refuses the JWT, GitHubRateLimited past the wait bound.
    """
    pace = pacing or Pacing()
    integration = GithubIntegration(
        auth=app_jwt_auth(app_id, private_key),
        base_url=base_url.rstrip("/"),
        timeout=pace.timeout_s,
        retry=make_retry(pace),
    )
    return f"{integration.get_app().slug}[bot]"


def make_github(
    settings: Settings | None = None,
    *,
    auth: Auth.Auth | None = None,
    base_url: str | None = None,
    pacing: Pacing | None = None,
) -> Github:
    """Return a PyGithub client for ``settings`` (or explicit ``auth`` and ``base_url``).

    Explicit arguments win over settings. Raises ForgeError when there is no auth.
    """
    if auth is None:
        if settings is None:
            raise ForgeError("make_github needs settings or auth")
        auth = make_auth(settings)
    url = base_url or (settings.github_api_url if settings is not None else DEFAULT_API_URL)
    pace = pacing or Pacing()
    log.debug("github_client_created", base_url=url, auth=type(auth).__name__)
    return Github(
        auth=auth,
        base_url=url.rstrip("/"),
        timeout=pace.timeout_s,
        retry=make_retry(pace),
        seconds_between_requests=pace.seconds_between_requests or None,
        seconds_between_writes=pace.seconds_between_writes or None,
    )


def repository(
    settings: Settings | None = None,
    *,
    full_name: str | None = None,
    github: Github | None = None,
    pacing: Pacing | None = None,
) -> Repository:
    """Return the target repository (``full_name`` or ``GITHUB_REPOSITORY``), fetched once.

    Raises ForgeError when no repository is named; PyGithub's GithubException when
    GitHub refuses (404 unknown repo, 401 bad credentials).
    """
    name = full_name or (settings.github_repository if settings is not None else None)
    if not name:
        raise ForgeError("no target repository: set GITHUB_REPOSITORY")
    gh = github or make_github(settings, pacing=pacing)
    return gh.get_repo(name)


def git_auth_header(github: Github) -> str:
    """Return the ``http.extraHeader`` line that authenticates git over HTTPS as ``github``.

    Token and App installation auth both become ``Authorization: Basic
    base64(x-access-token:TOKEN)``; an installation token is refreshed first if it is about
    to expire. The value is a secret: pass it to git through the environment, never log it.
    Raises ForgeError for auth that has no token (e.g. anonymous).
    """
    auth = github.requester.auth
    if not isinstance(auth, Auth.Token | Auth.AppInstallationAuth):
        raise ForgeError(f"git over HTTPS needs token or App auth, not {type(auth).__name__}")
    token = auth.token
    header = github_auth_header(token)
    redactor.add([token, header])  # App installation tokens change: scrub each one
    return header
