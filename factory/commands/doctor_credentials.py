"""``factoryd doctor``'s credential checks: one harmless read per configured service.

GitHub: the repository as the token (or App installation) sees it, with its scopes or
permissions; Anthropic: a token count (free, no model run); Slack: ``auth.test``; Sentry:
one issue of the project. Optional services are checked only when configured. A secret's
value never appears in a finding: details name the variable, not its value.
"""

from __future__ import annotations

import anthropic
import httpx
from github import GithubException, GithubIntegration
from slack_sdk.errors import SlackApiError

from factory.commands.findings import Check, Finding, ok, problem
from factory.errors import ForgeError, SentryError
from factory.forge.client import Pacing, app_jwt_auth, make_github
from factory.sentry.client import SentryClient
from factory.settings import Settings
from factory.slack.client import web_client

PROBE_MODEL = "claude-haiku-4-5"
"""The model the Anthropic token count names (counting is free and runs no model)."""
APP_NEEDS = {"contents": "write", "issues": "write", "pull_requests": "write"}
"""Installation permissions the factory's writes need."""
GITHUB_FIX = (
    "set GITHUB_TOKEN to a fine-grained token for the repository with Contents, Issues and "
    "Pull requests: read and write (or a classic token with the repo scope)"
)
PACING = Pacing(seconds_between_writes=0.0)


def _github_error(exc: GithubException) -> str:
    message = exc.data.get("message") if isinstance(exc.data, dict) else None
    return f"GitHub answered {exc.status}: {message or exc}"


def check_github(settings: Settings) -> list[Finding]:
    """The repository is named and readable with the credentials, which can write to it."""
    name = settings.github_repository
    if not name:
        return problem("github", "GITHUB_REPOSITORY is not set", "set it to owner/name")
    if settings.github_token is None and settings.github_app_id is None:
        return problem("github", "no GitHub credentials (GITHUB_TOKEN or GITHUB_APP_*)", GITHUB_FIX)
    try:
        if settings.github_app_id is not None:
            return _check_app(settings, name)
        gh = make_github(settings, pacing=PACING)
        repo = gh.get_repo(name)
        scopes = gh.oauth_scopes
    except ForgeError as exc:
        return problem("github", str(exc), "fix GITHUB_APP_PRIVATE_KEY_PATH")
    except GithubException as exc:
        if exc.status == 401:
            return problem("github", f"the token is refused ({_github_error(exc)})", GITHUB_FIX)
        if exc.status == 404:
            fix = f"give the token access to {name}, or fix GITHUB_REPOSITORY"
            return problem("github", f"{name} not found with this token", fix)
        return problem("github", _github_error(exc), "check GITHUB_API_URL and the token")
    except OSError as exc:
        return problem("github", f"cannot reach {settings.github_api_url}: {exc}", "check it")
    if scopes is not None and "repo" not in scopes:
        listed = ", ".join(scopes) or "none"
        return problem("github", f"the classic token's scopes are {listed}, not repo", GITHUB_FIX)
    if not repo.permissions.push:
        return problem("github", f"the token cannot write to {name}", GITHUB_FIX)
    return ok("github", f"{name} readable and writable with GITHUB_TOKEN")


def _check_app(settings: Settings, name: str) -> list[Finding]:
    app_id = settings.github_app_id
    key = settings.github_app_private_key_path
    assert app_id is not None and key is not None  # Settings checks the App trio
    integration = GithubIntegration(
        auth=app_jwt_auth(app_id, key), base_url=settings.github_api_url.rstrip("/")
    )
    owner, repo_name = name.split("/")
    installation = integration.get_repo_installation(owner, repo_name)
    if installation.id != settings.github_app_installation_id:
        return problem(
            "github",
            f"App {app_id} is installed on {name} as {installation.id}, "
            f"not GITHUB_APP_INSTALLATION_ID={settings.github_app_installation_id}",
            f"set GITHUB_APP_INSTALLATION_ID={installation.id}",
        )
    granted = installation.raw_data.get("permissions") or {}
    short = sorted(k for k, v in APP_NEEDS.items() if granted.get(k) != v)
    if short:
        return problem(
            "github",
            f"App {app_id} lacks write on: {', '.join(short)}",
            "grant Contents, Issues and Pull requests: read and write in the App's settings",
        )
    make_github(settings, pacing=PACING).get_repo(name)
    return ok("github", f"{name} readable with App {app_id}, installation {installation.id}")


def check_webhook_secret(settings: Settings) -> list[Finding]:
    """Webhook deliveries are refused unless signed with GITHUB_WEBHOOK_SECRET."""
    if settings.github_webhook_secret is None:
        return problem(
            "webhook secret",
            "GITHUB_WEBHOOK_SECRET is not set: every webhook delivery is refused",
            "set it to a random string (openssl rand -hex 32) and the same in the "
            "repository's webhook settings",
        )
    return ok("webhook secret", "GITHUB_WEBHOOK_SECRET is set")


def check_anthropic(settings: Settings) -> list[Finding]:
    """The API key is accepted: one token count (free; no model runs)."""
    fix = "set ANTHROPIC_API_KEY to a key from https://console.anthropic.com/settings/keys"
    if settings.anthropic_api_key is None:
        return problem("anthropic", "ANTHROPIC_API_KEY is not set", fix)
    client = anthropic.Anthropic(
        api_key=settings.anthropic_api_key.get_secret_value(),
        base_url=settings.anthropic_base_url,
        max_retries=1,
        timeout=20.0,
    )
    try:
        client.messages.count_tokens(
            model=PROBE_MODEL, messages=[{"role": "user", "content": "ping"}]
        )
    except anthropic.AuthenticationError:
        return problem("anthropic", "ANTHROPIC_API_KEY is refused (401)", fix)
    except anthropic.APIStatusError as exc:
        return problem("anthropic", f"the API answered {exc.status_code}", "check the key's org")
    except anthropic.APIConnectionError:
        where = settings.anthropic_base_url or "api.anthropic.com"
        return problem("anthropic", f"cannot reach {where}", "check ANTHROPIC_BASE_URL")
    return ok("anthropic", "ANTHROPIC_API_KEY accepted (token count)")


def check_slack(settings: Settings) -> list[Finding]:
    """When Slack is configured: the bot token passes ``auth.test``."""
    if settings.slack_bot_token is None:
        if settings.slack_app_token is not None or settings.slack_signing_secret is not None:
            return problem("slack", "SLACK_BOT_TOKEN is not set", "set the bot token (xoxb-…)")
        return []
    client = web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "error")
        return problem("slack", f"auth.test: {error}", "set SLACK_BOT_TOKEN to the bot token")
    except OSError as exc:
        return problem("slack", f"cannot reach {settings.slack_api_url}: {exc}", "check it")
    return ok("slack", f"SLACK_BOT_TOKEN is {answer.get('user')} in {answer.get('team')}")


def check_sentry(settings: Settings) -> list[Finding]:
    """When Sentry is configured: org, project and token read one issue."""
    named = [settings.sentry_org, settings.sentry_project, settings.sentry_auth_token]
    if not any(v is not None for v in named):
        return []
    if settings.sentry_auth_token is None or not settings.sentry_org:
        fix = "set SENTRY_ORG, SENTRY_PROJECT and SENTRY_AUTH_TOKEN together"
        return problem("sentry", "Sentry is partly configured", fix)
    client = SentryClient(
        settings.sentry_api_url,
        settings.sentry_auth_token.get_secret_value(),
        settings.sentry_org,
        timeout_s=20.0,
        max_wait_s=0.0,
    )
    try:
        client.issues(settings.sentry_project, "", limit=1)
    except SentryError as exc:
        return problem("sentry", str(exc), "check SENTRY_AUTH_TOKEN (read scope) and the slugs")
    except httpx.HTTPError as exc:
        return problem("sentry", f"cannot reach {settings.sentry_api_url}: {exc}", "check it")
    finally:
        client.close()
    return ok("sentry", f"{settings.sentry_org}/{settings.sentry_project} readable")


CREDENTIAL_CHECKS: list[Check] = [
    check_github,
    check_webhook_secret,
    check_anthropic,
    check_slack,
    check_sentry,
]
"""The credential checks, in the order they print."""
