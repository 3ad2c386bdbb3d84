"""The GitHub client against a real FakeGitHub: token and App auth, rate limits, git header."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, RateLimitExceededException
from github.Repository import Repository
from pydantic import SecretStr

from factory.daemon.wiring import own_login
from factory.errors import ForgeError, GitHubRateLimited
from factory.forge.client import Pacing, app_auth, git_auth_header, make_github, repository
from factory.settings import Settings
from factory.testing.fake_github import FakeGitHub

REPO = "acme/widgets"
FAST = Pacing(seconds_between_writes=0, backoff_factor=0)


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    """A FakeGitHub with the target repo and a token user."""
    with FakeGitHub() as server:
        server.create_repo(REPO)
        server.add_user("alice", token="t-alice", permission="admin")
        yield server


@pytest.fixture(scope="module")
def rsa_pem() -> tuple[str, str]:
    """A fresh RSA key pair as (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def settings_for(fake: FakeGitHub, **values: object) -> Settings:
    """Settings pointing at the fake (no .env read)."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        github_api_url=fake.api_url,
        github_repository=REPO,
        **values,  # type: ignore[arg-type]
    )


def token_posts(fake: FakeGitHub) -> int:
    """Return how many installation tokens the fake has handed out."""
    return sum(1 for m, p, _ in fake.request_log if m == "POST" and p.endswith("/access_tokens"))


def test_token_settings_reach_the_repository_as_the_token_user(fake: FakeGitHub) -> None:
    """GITHUB_TOKEN auth: an issue created through the client is authored by the token's user."""
    settings = settings_for(fake, github_token=SecretStr("t-alice"))
    repo = repository(settings, pacing=FAST)
    assert repo.create_issue("hello").user.login == "alice"


def test_bad_token_is_refused_by_github(fake: FakeGitHub) -> None:
    """An unknown token gets GitHub's 401, not a silent anonymous client."""
    gh = make_github(auth=Auth.Token("nope"), base_url=fake.api_url, pacing=FAST)
    with pytest.raises(Exception, match="Bad credentials"):
        gh.get_repo(REPO)


def test_no_credentials_is_a_forge_error(fake: FakeGitHub) -> None:
    """Settings without token or App fail with a ForgeError naming what to set."""
    with pytest.raises(ForgeError, match="GITHUB_TOKEN"):
        make_github(settings_for(fake))


def test_app_auth_uses_an_installation_token(
    fake: FakeGitHub, rsa_pem: tuple[str, str], tmp_path: Path
) -> None:
    """App settings: the client gets an installation token and acts as the App's bot."""
    private, public = rsa_pem
    fake.register_app(42, slug="factory", public_key=public)
    key = tmp_path / "app.pem"
    key.write_text(private)
    settings = settings_for(
        fake,
        github_app_id=42,
        github_app_private_key_path=key,
        github_app_installation_id=fake.installation_id(REPO),
    )
    repo = repository(settings, pacing=FAST)
    assert repo.create_issue("from the app").user.login == "factory[bot]"


def test_app_token_is_reused_while_valid(fake: FakeGitHub, rsa_pem: tuple[str, str]) -> None:
    """A long-lived installation token is fetched once for many requests."""
    private, public = rsa_pem
    fake.register_app(42, public_key=public, token_ttl_s=3600)
    auth = app_auth(42, private, fake.installation_id(REPO))
    repo = make_github(auth=auth, base_url=fake.api_url, pacing=FAST).get_repo(REPO)
    repo.create_issue("one")
    repo.create_issue("two")
    assert token_posts(fake) == 1


def test_app_token_near_expiry_is_refreshed(fake: FakeGitHub, rsa_pem: tuple[str, str]) -> None:
    """An installation token within PyGithub's refresh margin is replaced before use."""
    private, public = rsa_pem
    fake.register_app(42, public_key=public, token_ttl_s=5)
    auth = app_auth(42, private, fake.installation_id(REPO))
    repo = make_github(auth=auth, base_url=fake.api_url, pacing=FAST).get_repo(REPO)
    repo.create_issue("one")
    assert token_posts(fake) >= 2


def test_app_with_a_wrong_key_is_refused(fake: FakeGitHub, rsa_pem: tuple[str, str]) -> None:
    """A JWT signed by another key does not get an installation token."""
    _, public = rsa_pem
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    fake.register_app(42, public_key=public)
    auth = app_auth(42, pem, fake.installation_id(REPO))
    with pytest.raises(Exception, match="JSON web token"):
        make_github(auth=auth, base_url=fake.api_url, pacing=FAST).get_repo(REPO)


def test_missing_app_key_file_is_a_forge_error(tmp_path: Path) -> None:
    """An unreadable private key path fails with a ForgeError naming the App."""
    with pytest.raises(ForgeError, match="GitHub App 42"):
        app_auth(42, tmp_path / "missing.pem", 1)


@pytest.mark.parametrize("status", [403, 429], ids=["403", "429"])
def test_rate_limit_with_retry_after_once_is_retried(fake: FakeGitHub, status: int) -> None:
    """One rate-limited answer with retry-after is waited out and the request succeeds."""
    repo = make_github(auth=Auth.Token("t-alice"), base_url=fake.api_url, pacing=FAST).get_repo(
        REPO
    )
    fake.inject_rate_limit(1, retry_after=1, status=status)
    assert repo.create_issue("after the limit").title == "after the limit"


def test_secondary_rate_limit_is_retried(fake: FakeGitHub) -> None:
    """A secondary rate limit (403 with retry-after) is retried too."""
    repo = make_github(auth=Auth.Token("t-alice"), base_url=fake.api_url, pacing=FAST).get_repo(
        REPO
    )
    fake.inject_rate_limit(1, retry_after=0, status=403, secondary=True)
    assert repo.get_issues().totalCount == 0


def test_persistent_rate_limit_gives_up_after_bounded_retries(fake: FakeGitHub) -> None:
    """Five rate-limited answers in a row exhaust the 3 retries: 4 attempts, then the error."""
    repo = make_github(auth=Auth.Token("t-alice"), base_url=fake.api_url, pacing=FAST).get_repo(
        REPO
    )
    before = len(fake.request_log)
    fake.inject_rate_limit(5, retry_after=0, status=403)
    with pytest.raises(RateLimitExceededException, match="rate limit exceeded"):
        repo.create_issue("never")
    assert len(fake.request_log) - before == 4


def test_git_auth_header_for_a_token_is_basic_x_access_token(fake: FakeGitHub) -> None:
    """The git header carries ``x-access-token:<token>`` in HTTP Basic form."""
    gh = make_github(auth=Auth.Token("t-alice"), base_url=fake.api_url, pacing=FAST)
    expected = "Authorization: Basic " + base64.b64encode(b"x-access-token:t-alice").decode()
    assert git_auth_header(gh) == expected


def test_git_auth_header_for_an_app_carries_a_valid_installation_token(
    fake: FakeGitHub, rsa_pem: tuple[str, str]
) -> None:
    """For an App the git header's token authenticates against the API as the App's bot."""
    private, public = rsa_pem
    fake.register_app(42, public_key=public)
    auth = app_auth(42, private, fake.installation_id(REPO))
    header = git_auth_header(make_github(auth=auth, base_url=fake.api_url, pacing=FAST))
    token = base64.b64decode(header.removeprefix("Authorization: Basic ")).decode().split(":", 1)[1]
    gh = make_github(auth=Auth.Token(token), base_url=fake.api_url, pacing=FAST)
    assert gh.get_repo(REPO).create_issue("via git token").user.login == "factory[bot]"


def test_negative_pacing_is_refused() -> None:
    """Pacing checks its inputs."""
    with pytest.raises(ValueError, match="pacing"):
        Pacing(seconds_between_writes=-1)


def test_own_login_of_a_token_is_its_user(fake: FakeGitHub) -> None:
    """With a token, the factory's own login is the token's user."""
    settings = Settings(
        github_api_url=fake.api_url,
        github_token="t-alice",
        _env_file=None,  # type: ignore[call-arg]
    )
    assert own_login(make_github(settings, pacing=FAST), settings) == "alice"


def test_own_login_of_an_app_is_its_bot(
    fake: FakeGitHub, rsa_pem: tuple[str, str], tmp_path: Path
) -> None:
    """With App auth (no /user), the factory's own login is ``<app slug>[bot]``."""
    private, public = rsa_pem
    fake.register_app(42, public_key=public)
    key = tmp_path / "app.pem"
    key.write_text(private)
    settings = Settings(
        github_api_url=fake.api_url,
        github_app_id=42,
        github_app_private_key_path=key,
        github_app_installation_id=fake.installation_id(REPO),
        _env_file=None,  # type: ignore[call-arg]
    )
    assert own_login(make_github(settings, pacing=FAST), settings) == "factory[bot]"


def limited_repo(fake: FakeGitHub, max_wait: float = 30.0) -> Repository:
    """Return the test repo through a client that waits at most ``max_wait`` s for a limit."""
    pacing = Pacing(seconds_between_writes=0, backoff_factor=0, max_rate_limit_wait=max_wait)
    return make_github(auth=Auth.Token("t-alice"), base_url=fake.api_url, pacing=pacing).get_repo(
        REPO
    )


@pytest.mark.parametrize("status", [403, 429], ids=["403", "429"])
def test_primary_limit_is_waited_out_until_its_reset(fake: FakeGitHub, status: int) -> None:
    """A spent primary limit (no retry-after) resetting in 2 s is waited out; the call succeeds."""
    repo = limited_repo(fake)
    fake.inject_primary_rate_limit(reset_in=2, status=status)
    assert repo.create_issue("after the reset").title == "after the reset"


@pytest.mark.parametrize("status", [403, 429], ids=["403", "429"])
def test_primary_limit_beyond_the_bound_is_rate_limited(fake: FakeGitHub, status: int) -> None:
    """A reset further away than the client's bound raises GitHubRateLimited at once."""
    repo = limited_repo(fake, max_wait=5)
    fake.inject_primary_rate_limit(reset_in=600, status=status)
    started = time.monotonic()
    with pytest.raises(GitHubRateLimited) as caught:
        repo.get_issues()[0]
    assert (
        caught.value.resource,
        598 <= caught.value.wait_s <= 603,
        time.monotonic() - started < 4,
    ) == (
        "core",
        True,
        True,
    )


def test_secondary_limit_beyond_the_bound_is_rate_limited(fake: FakeGitHub) -> None:
    """A retry-after longer than the client's bound raises GitHubRateLimited, not a long sleep."""
    repo = limited_repo(fake, max_wait=5)
    fake.inject_secondary_rate_limit(retry_after=20, status=403)
    started = time.monotonic()
    with pytest.raises(GitHubRateLimited):
        repo.create_issue("never")
    assert time.monotonic() - started < 4


def test_secondary_limit_on_429_is_waited_out(fake: FakeGitHub) -> None:
    """A 429 secondary limit with a short retry-after is waited out and the call succeeds."""
    repo = limited_repo(fake)
    fake.inject_secondary_rate_limit(retry_after=1, status=429)
    assert repo.create_issue("after the wait").title == "after the wait"


def test_rate_limited_error_names_the_request(fake: FakeGitHub) -> None:
    """GitHubRateLimited's message names the refused request and how long GitHub asks to wait."""
    repo = limited_repo(fake, max_wait=5)
    fake.inject_primary_rate_limit(reset_in=600, status=429)
    with pytest.raises(GitHubRateLimited, match=r"GET /repos/acme/widgets/issues/1 .*core"):
        repo.get_issue(1)


def test_rate_limited_error_is_retryable() -> None:
    """GitHubRateLimited says a later attempt may succeed."""
    assert GitHubRateLimited("GET /x", 600.0, "core").retryable is True
