"""factoryd doctor: each missing or bad piece is named with its fix (real bwrap, the fakes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from factory.cli import app
from factory.commands.doctor import check_config, check_data_dir, check_sandbox, run_checks
from factory.commands.doctor_credentials import (
    check_anthropic,
    check_github,
    check_sentry,
    check_slack,
    check_webhook_secret,
)
from factory.commands.findings import Finding, render
from factory.settings import Settings
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_sentry import FakeSentry
from factory.testing.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
REPO = "acme/widgets"


def settings(tmp_path: Path, **fields: Any) -> Settings:
    """Settings from ``fields`` only (no .env), with a data dir under ``tmp_path``."""
    fields.setdefault("data_dir", tmp_path / "data")
    return Settings(_env_file=None, **fields)


def failed(findings: list[Finding]) -> list[tuple[str, str]]:
    """Return (name, detail) of each finding that is not ok."""
    return [(f.name, f.detail) for f in findings if not f.ok]


@pytest.fixture(name="github")
def github_fixture() -> Iterator[FakeGitHub]:
    """FakeGitHub with REPO, a writer (t-bot) and a reader (t-reader)."""
    with FakeGitHub() as server:
        server.create_repo(REPO)
        server.add_user("factory-bot", token="t-bot", permission="write")
        server.add_user("reader", token="t-reader", permission="read")
        yield server


def test_missing_bwrap_is_named_with_its_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no bwrap on PATH the sandbox check fails and says how to install it."""
    monkeypatch.setenv("PATH", str(tmp_path))
    [finding] = check_sandbox(settings(tmp_path))
    assert (finding.ok, finding.detail, "apt-get install bubblewrap" in finding.fix) == (
        False,
        "bubblewrap (bwrap) not found on PATH",
        True,
    )


def test_working_bwrap_passes(tmp_path: Path) -> None:
    """The real bwrap of the test host starts a sandbox, so the check passes."""
    assert [f.ok for f in check_sandbox(settings(tmp_path))] == [True]


def test_unwritable_data_dir_is_named_with_its_fix(tmp_path: Path) -> None:
    """A data dir that cannot be made (its parent is a file) fails with FACTORY_DATA_DIR."""
    (tmp_path / "file").write_text("")
    [finding] = check_data_dir(settings(tmp_path, data_dir=tmp_path / "file" / "data"))
    assert (finding.name, finding.ok, "FACTORY_DATA_DIR" in finding.fix) == (
        "data dir",
        False,
        True,
    )


def test_writable_data_dir_and_disk_pass(tmp_path: Path) -> None:
    """A fresh data dir under tmp_path is writable and its disk has room."""
    assert [(f.name, f.ok) for f in check_data_dir(settings(tmp_path))] == [
        ("data dir", True),
        ("disk", True),
    ]


def test_invalid_config_is_named_with_file_and_line(tmp_path: Path) -> None:
    """An automation with an unknown key fails the config check with its FILE:LINE:COL."""
    (tmp_path / "automations").mkdir()
    (tmp_path / "automations" / "bad.yaml").write_text("name: bad\nbogus: 1\n")
    fields = {"automations_dir": tmp_path / "automations", "harness_dir": ROOT / "harness"}
    [finding] = check_config(settings(tmp_path, **fields))
    assert (finding.ok, str(tmp_path / "automations" / "bad.yaml") + ":2:1" in finding.detail) == (
        False,
        True,
    )


def test_shipped_config_passes(tmp_path: Path) -> None:
    """The repository's own automations and harness pass the config check."""
    fields = {"automations_dir": ROOT / "automations", "harness_dir": ROOT / "harness"}
    assert [f.ok for f in check_config(settings(tmp_path, **fields))] == [True]


def test_no_github_token_is_named(tmp_path: Path) -> None:
    """A repository without credentials fails the GitHub check naming GITHUB_TOKEN."""
    [finding] = check_github(settings(tmp_path, github_repository=REPO))
    assert (finding.ok, "GITHUB_TOKEN" in finding.detail, "GITHUB_TOKEN" in finding.fix) == (
        False,
        True,
        True,
    )


def test_refused_github_token_is_named(tmp_path: Path, github: FakeGitHub) -> None:
    """A token GitHub answers 401 for fails as refused."""
    fields = {"github_token": SecretStr("t-wrong"), "github_api_url": github.api_url}
    [finding] = check_github(settings(tmp_path, github_repository=REPO, **fields))
    assert (finding.ok, finding.detail.startswith("the token is refused")) == (False, True)


def test_read_only_github_token_is_named(tmp_path: Path, github: FakeGitHub) -> None:
    """A token that can read but not push to the repository fails as unable to write."""
    fields = {"github_token": SecretStr("t-reader"), "github_api_url": github.api_url}
    [finding] = check_github(settings(tmp_path, github_repository=REPO, **fields))
    assert (finding.ok, finding.detail) == (False, f"the token cannot write to {REPO}")


def test_unknown_repository_is_named(tmp_path: Path, github: FakeGitHub) -> None:
    """A repository the token cannot see (404) fails naming it."""
    fields = {"github_token": SecretStr("t-bot"), "github_api_url": github.api_url}
    [finding] = check_github(settings(tmp_path, github_repository="acme/nope", **fields))
    assert (finding.ok, finding.detail) == (False, "acme/nope not found with this token")


def test_writing_github_token_passes(tmp_path: Path, github: FakeGitHub) -> None:
    """The bot's token reads and writes the repository, so the check passes."""
    fields = {"github_token": SecretStr("t-bot"), "github_api_url": github.api_url}
    assert [f.ok for f in check_github(settings(tmp_path, github_repository=REPO, **fields))] == [
        True
    ]


def test_unset_webhook_secret_is_named(tmp_path: Path) -> None:
    """No GITHUB_WEBHOOK_SECRET fails, since every delivery would be refused."""
    [finding] = check_webhook_secret(settings(tmp_path))
    assert (finding.ok, "GITHUB_WEBHOOK_SECRET" in finding.detail) == (False, True)


def test_missing_anthropic_key_is_named(tmp_path: Path) -> None:
    """No ANTHROPIC_API_KEY fails naming it, with where to get one."""
    [finding] = check_anthropic(settings(tmp_path))
    assert (finding.ok, finding.detail, "console.anthropic.com" in finding.fix) == (
        False,
        "ANTHROPIC_API_KEY is not set",
        True,
    )


def test_bad_anthropic_key_is_named(tmp_path: Path) -> None:
    """A key the API answers 401 for fails as refused."""
    with FakeAnthropic(api_key="sk-good") as fake:
        fields = {"anthropic_api_key": SecretStr("sk-bad"), "anthropic_base_url": fake.base_url}
        [finding] = check_anthropic(settings(tmp_path, **fields))
    assert (finding.ok, finding.detail) == (False, "ANTHROPIC_API_KEY is refused (401)")


def test_good_anthropic_key_passes_with_one_token_count(tmp_path: Path) -> None:
    """A good key passes, and the only call made is a token count (no model run)."""
    with FakeAnthropic(api_key="sk-good") as fake:
        fields = {"anthropic_api_key": SecretStr("sk-good"), "anthropic_base_url": fake.base_url}
        findings = check_anthropic(settings(tmp_path, **fields))
        paths = [call.path for call in fake.calls]
    assert ([f.ok for f in findings], paths) == ([True], ["/v1/messages/count_tokens"])


def test_bad_slack_token_is_named(tmp_path: Path) -> None:
    """A bot token auth.test refuses fails with Slack's error code."""
    with FakeSlack() as fake:
        fields = {"slack_bot_token": SecretStr("xoxb-wrong"), "slack_api_url": fake.api_url}
        [finding] = check_slack(settings(tmp_path, **fields))
    assert (finding.ok, finding.detail) == (False, "auth.test: invalid_auth")


def test_good_slack_token_passes(tmp_path: Path) -> None:
    """The fake's bot token passes auth.test."""
    with FakeSlack() as fake:
        fields = {"slack_bot_token": SecretStr(fake.bot_token), "slack_api_url": fake.api_url}
        assert [f.ok for f in check_slack(settings(tmp_path, **fields))] == [True]


def test_unconfigured_slack_and_sentry_are_not_checked(tmp_path: Path) -> None:
    """Optional services that are not configured give no finding at all."""
    assert check_slack(settings(tmp_path)) + check_sentry(settings(tmp_path)) == []


def test_bad_sentry_token_is_named(tmp_path: Path) -> None:
    """A Sentry token the API refuses fails the Sentry check."""
    with FakeSentry() as fake:
        fields = {
            "sentry_auth_token": SecretStr("sntrys_wrong"),
            "sentry_org": fake.org,
            "sentry_project": "web",
            "sentry_api_url": fake.api_url,
        }
        [finding] = check_sentry(settings(tmp_path, **fields))
    assert (finding.ok, "401" in finding.detail) == (False, True)


def test_good_sentry_token_passes(tmp_path: Path) -> None:
    """The fake's token reads the project's issues, so the check passes."""
    with FakeSentry() as fake:
        fields = {
            "sentry_auth_token": SecretStr(fake.token),
            "sentry_org": fake.org,
            "sentry_project": "web",
            "sentry_api_url": fake.api_url,
        }
        assert [f.ok for f in check_sentry(settings(tmp_path, **fields))] == [True]


def test_no_secret_value_reaches_the_report(tmp_path: Path, github: FakeGitHub) -> None:
    """A refused token's value appears nowhere in the rendered report."""
    fields = {"github_token": SecretStr("t-wrong-secret"), "github_api_url": github.api_url}
    findings = run_checks(settings(tmp_path, github_repository=REPO, **fields), [check_github])
    assert "t-wrong-secret" not in render(findings)


def test_render_prints_each_problem_with_its_fix() -> None:
    """A failing finding prints as FAIL with its fix on the next line, then the count."""
    findings = [Finding("git", True, "/usr/bin/git"), Finding("x", False, "broken", "mend it")]
    assert render(findings) == (
        "ok    git: /usr/bin/git\nFAIL  x: broken\n      fix: mend it\n1 problem(s)"
    )


def test_doctor_exits_1_naming_each_missing_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no token and no key, `factoryd doctor` exits 1 and names both with their fixes."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("FACTORY_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["doctor", "--config", str(ROOT)])
    names = [line.split(":")[0] for line in result.output.splitlines() if line.startswith("FAIL")]
    assert (result.exit_code, names) == (
        1,
        ["FAIL  github", "FAIL  webhook secret", "FAIL  anthropic"],
    )


APP_ID = 4242


def app_fields(github: FakeGitHub, tmp_path: Path, installation: int) -> dict[str, Any]:
    """Settings fields that authenticate as App APP_ID's ``installation`` (a fresh key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "app.pem").write_bytes(pem)
    github.register_app(APP_ID, slug="acme-factory")
    return {
        "github_api_url": github.api_url,
        "github_repository": REPO,
        "github_app_id": APP_ID,
        "github_app_private_key_path": tmp_path / "app.pem",
        "github_app_installation_id": installation,
    }


def test_github_app_with_its_installation_passes(tmp_path: Path, github: FakeGitHub) -> None:
    """An App installed on the repository with write permissions passes the GitHub check."""
    fields = app_fields(github, tmp_path, github.installation_id(REPO))
    assert [f.ok for f in check_github(settings(tmp_path, **fields))] == [True]


def test_github_app_with_a_wrong_installation_id_is_named(
    tmp_path: Path, github: FakeGitHub
) -> None:
    """An installation id that is not the repository's fails, with the right id as fix."""
    right = github.installation_id(REPO)
    fields = app_fields(github, tmp_path, right + 1)
    [finding] = check_github(settings(tmp_path, **fields))
    assert (finding.ok, finding.fix) == (False, f"set GITHUB_APP_INSTALLATION_ID={right}")
