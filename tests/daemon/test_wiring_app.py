"""The GitHub side built from GitHub App settings: installation token, and the bot's login.

GitHub answers ``GET /user`` with 403 for an installation token, so the App's own login
(``<slug>[bot]``) comes from ``GET /app`` authenticated with the App's JWT.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from factory.config.loader import load_factory
from factory.daemon.runenv import GitHubSide
from factory.daemon.wiring import github_side, own_login
from factory.forge.client import Pacing, make_github
from factory.settings import Settings
from factory.testing.fake_github import FakeGitHub

ROOT = Path(__file__).resolve().parents[2]
REPO = "acme/widgets"
APP_ID, SLUG = 4242, "acme-factory"


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, str]:
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


@pytest.fixture
def fake(key_pair: tuple[str, str]) -> Iterator[FakeGitHub]:
    """A FakeGitHub with the repo and App ``acme-factory`` that checks JWT signatures."""
    with FakeGitHub() as server:
        server.create_repo(REPO)
        server.register_app(APP_ID, slug=SLUG, public_key=key_pair[1])
        yield server


def app_settings(fake: FakeGitHub, key_pair: tuple[str, str], tmp_path: Path) -> Settings:
    """Settings that authenticate as the App's installation on the repo (no token)."""
    key = tmp_path / "app.pem"
    key.write_text(key_pair[0])
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        github_api_url=fake.api_url,
        github_repository=REPO,
        github_app_id=APP_ID,
        github_app_private_key_path=key,
        github_app_installation_id=fake.installation_id(REPO),
        github_write_pacing_s=0,
    )


def side_for(fake: FakeGitHub, key_pair: tuple[str, str], tmp_path: Path) -> GitHubSide:
    """Build the daemon's GitHub side from App settings, as the daemon does at start."""
    policy = load_factory(ROOT / "automations", ROOT / "harness").policy
    return github_side(app_settings(fake, key_pair, tmp_path), policy, tmp_path / "data")


def test_app_side_knows_its_login_as_the_app_bot(
    fake: FakeGitHub, key_pair: tuple[str, str], tmp_path: Path
) -> None:
    """Built from App settings, the GitHub side's own login is ``<slug>[bot]``."""
    assert side_for(fake, key_pair, tmp_path).bot_login == f"{SLUG}[bot]"


def test_app_side_writes_as_its_own_login(
    fake: FakeGitHub, key_pair: tuple[str, str], tmp_path: Path
) -> None:
    """What the App side writes is authored by the login it takes as its own."""
    side = side_for(fake, key_pair, tmp_path)
    assert side.repo.create_issue("from the app").user.login == side.bot_login


def test_app_login_comes_from_the_app_not_from_user(
    fake: FakeGitHub, key_pair: tuple[str, str], tmp_path: Path
) -> None:
    """The App's login is asked of GET /app; GET /user, which refuses installations, is not."""
    side_for(fake, key_pair, tmp_path)
    asked = [path for method, path, _ in fake.request_log if path in ("/user", "/app")]
    assert asked == ["/app"]


def test_app_login_lookup_waits_out_a_primary_limit(
    fake: FakeGitHub, key_pair: tuple[str, str], tmp_path: Path
) -> None:
    """GET /app meeting a primary 429 that resets in 2 s is waited out like any other call."""
    settings = app_settings(fake, key_pair, tmp_path)
    gh = make_github(settings, pacing=Pacing(seconds_between_writes=0, backoff_factor=0))
    gh.get_repo(REPO)
    fake.inject_primary_rate_limit(reset_in=2, status=429)
    assert own_login(gh, settings) == f"{SLUG}[bot]"
