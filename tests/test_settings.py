"""Settings: parsing from env and .env, validation, and secrets kept out of every output."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
import structlog

from factory.logs import Redactor, configure_logging
from factory.settings import Settings

CANARIES = {
    "GITHUB_TOKEN": "canary-gh-7f3a9e1b",
    "GITHUB_WEBHOOK_SECRET": "canary-hook-55d1c0aa",
    "ANTHROPIC_API_KEY": "canary-ant-0c4b8d2e",
    "SLACK_BOT_TOKEN": "canary-slack-a1b2c3d4",
    "SLACK_SIGNING_SECRET": "canary-slacksig-9e8d7c6b",
    "SENTRY_AUTH_TOKEN": "canary-sentry-3e2f1a0b",
    "FACTORY_VIEWER_TOKEN": "canary-viewer-77aa11bb",
}


@pytest.fixture
def canary_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """Settings whose every secret is a canary value."""
    monkeypatch.chdir(tmp_path)
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/widgets")
    return Settings()


def test_defaults_bind_loopback_8765(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With nothing configured the viewer binds 127.0.0.1:8765."""
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8765)


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Variables in ./.env are read like the environment."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("GITHUB_REPOSITORY=o/r\nFACTORY_CONCURRENCY=5\n")
    settings = Settings()
    assert (settings.github_repository, settings.concurrency) == ("o/r", 5)


def test_bad_repository_name_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """GITHUB_REPOSITORY must be owner/name."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_REPOSITORY", "just-a-name")
    with pytest.raises(ValueError, match="owner/name"):
        Settings()


def test_partial_app_auth_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A GitHub App id without its key and installation is an error."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_APP_ID", "12")
    with pytest.raises(ValueError, match="GITHUB_APP_PRIVATE_KEY_PATH"):
        Settings()


def test_repr_and_json_dump_hide_secrets(canary_env: Settings) -> None:
    """Neither repr() nor a JSON dump of the settings contains a secret value."""
    text = repr(canary_env) + canary_env.model_dump_json() + str(canary_env.model_dump())
    assert [c for c in CANARIES.values() if c in text] == []


def test_validation_error_does_not_echo_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A settings error message never repeats the offending secret input."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FACTORY_PORT", "canary-port-d00d")
    with pytest.raises(ValueError) as info:
        Settings()
    assert "canary-port-d00d" not in str(info.value)


def test_log_lines_never_contain_secrets(canary_env: Settings) -> None:
    """A log event that carries secret values (even nested) is written redacted."""
    stream = io.StringIO()
    configure_logging(canary_env, stream=stream)
    log = structlog.get_logger("test")
    log.info(
        "settings_loaded",
        token=CANARIES["GITHUB_TOKEN"],
        nested={"k": [CANARIES["ANTHROPIC_API_KEY"]]},
    )
    log.warning("oops", detail=f"header x-api-key: {CANARIES['ANTHROPIC_API_KEY']}")
    out = stream.getvalue()
    assert [c for c in CANARIES.values() if c in out] == []
    assert json.loads(out.splitlines()[0])["token"] == "[redacted]"


def test_redactor_scrubs_longest_first() -> None:
    """Overlapping secrets are scrubbed whole, not leaving a tail of the longer one."""
    redactor = Redactor(["abcd", "abcdefgh"])
    assert redactor.scrub("x abcdefgh y") == "x [redacted] y"


def test_missing_for_start_lists_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """start's pre-flight names each missing credential variable."""
    monkeypatch.chdir(tmp_path)
    missing = Settings().missing_for_start()
    assert [m.split()[0] for m in missing] == [
        "GITHUB_REPOSITORY",
        "GITHUB_TOKEN",
        "ANTHROPIC_API_KEY",
    ]


def test_stdlib_log_records_are_redacted_too(canary_env: Settings) -> None:
    """A library logging through stdlib logging (uvicorn, PyGithub) cannot leak a secret."""
    stream = io.StringIO()
    configure_logging(canary_env, stream=stream)
    try:
        raise RuntimeError(f"bad header {CANARIES['GITHUB_TOKEN']}")
    except RuntimeError:
        logging.getLogger("urllib3").exception("retry with %s", CANARIES["ANTHROPIC_API_KEY"])
    out = stream.getvalue()
    assert ([c for c in CANARIES.values() if c in out], "[redacted]" in out) == ([], True)


def test_config_dir_holds_automations_and_harness(tmp_path: Path) -> None:
    """FACTORY_CONFIG_DIR makes its automations/ and harness/ the two folders' defaults."""
    settings = Settings.model_validate({"FACTORY_CONFIG_DIR": str(tmp_path)})
    assert (settings.automations_dir, settings.harness_dir, settings.config_root) == (
        tmp_path / "automations",
        tmp_path / "harness",
        tmp_path,
    )


def test_explicit_folder_beats_the_config_dir(tmp_path: Path) -> None:
    """A folder named on its own is used even with a config directory set."""
    settings = Settings.model_validate(
        {"FACTORY_CONFIG_DIR": str(tmp_path), "FACTORY_HARNESS_DIR": "/srv/harness"}
    )
    assert (settings.automations_dir, settings.harness_dir) == (
        tmp_path / "automations",
        Path("/srv/harness"),
    )
