"""Settings from the environment and ``.env``: credentials, paths, the viewer's address.

Secrets are ``SecretStr``: their values never appear in ``repr``, logs or CLI output, and
``Settings.secret_values()`` lists them so the log redactor can scrub them anyway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(*names: str) -> Any:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Everything factoryd reads from its environment, validated once at start."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,
    )

    # GitHub
    github_repository: str | None = Field(default=None, validation_alias=_env("GITHUB_REPOSITORY"))
    """The target repository as ``owner/name``."""
    github_api_url: str = Field(
        default="https://api.github.com", validation_alias=_env("GITHUB_API_URL")
    )
    """REST API base URL (GitHub Enterprise: ``https://HOST/api/v3``)."""
    github_token: SecretStr | None = Field(default=None, validation_alias=_env("GITHUB_TOKEN"))
    """A fine-grained personal access token; or use the GitHub App settings below."""
    github_app_id: int | None = Field(default=None, validation_alias=_env("GITHUB_APP_ID"))
    """GitHub App id, when authenticating as an App."""
    github_app_private_key_path: Path | None = Field(
        default=None, validation_alias=_env("GITHUB_APP_PRIVATE_KEY_PATH")
    )
    """Path to the GitHub App's PEM private key."""
    github_app_installation_id: int | None = Field(
        default=None, validation_alias=_env("GITHUB_APP_INSTALLATION_ID")
    )
    """The App's installation id on the target repository's owner."""
    github_bot_login: str | None = Field(default=None, validation_alias=_env("FACTORY_BOT_LOGIN"))
    """The factory's own GitHub login; found from the token or App when unset."""
    github_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("GITHUB_WEBHOOK_SECRET")
    )
    """Shared secret that signs GitHub webhook deliveries (X-Hub-Signature-256)."""

    # Anthropic
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("ANTHROPIC_API_KEY")
    )
    """API key for the Anthropic Messages API."""
    anthropic_base_url: str | None = Field(
        default=None, validation_alias=_env("ANTHROPIC_BASE_URL")
    )
    """Optional API base URL (a proxy or gateway); default is Anthropic's."""

    # Slack
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_BOT_TOKEN")
    )
    """Bot token (xoxb-…) used to read mentions and reply."""
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_APP_TOKEN")
    )
    """App-level token (xapp-…) for Socket Mode."""
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    """Signing secret that verifies Slack's HTTP requests."""
    slack_api_url: str = Field(
        default="https://slack.com/api/", validation_alias=_env("SLACK_API_URL")
    )
    """Slack Web API base URL (FakeSlack's ``api_url`` in tests and the demo)."""

    # Sentry
    sentry_org: str | None = Field(default=None, validation_alias=_env("SENTRY_ORG"))
    """Sentry organization slug to read issues from."""
    sentry_project: str | None = Field(default=None, validation_alias=_env("SENTRY_PROJECT"))
    """Sentry project slug to read issues from."""
    sentry_auth_token: SecretStr | None = Field(
        default=None, validation_alias=_env("SENTRY_AUTH_TOKEN")
    )
    """Sentry API auth token (read scope; write too where an automation may resolve)."""
    sentry_client_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("SENTRY_CLIENT_SECRET")
    )
    """The internal integration's client secret: verifies ``Sentry-Hook-Signature``."""
    sentry_api_url: str = Field(
        default="https://sentry.io/api/0/", validation_alias=_env("SENTRY_API_URL")
    )
    """Sentry REST API base URL (FakeSentry's ``api_url`` in tests and the demo)."""
    sentry_dsn: SecretStr | None = Field(default=None, validation_alias=_env("SENTRY_DSN"))
    """DSN for reporting factoryd's own errors; unset means not reported."""

    # Daemon
    data_dir: Path = Field(default=Path("data"), validation_alias=_env("FACTORY_DATA_DIR"))
    """Where the SQLite store, mirrors and workspaces live."""
    database_url_setting: SecretStr | None = Field(
        default=None, validation_alias=_env("FACTORY_DATABASE_URL")
    )
    """The run store's SQLAlchemy URL (``postgresql+psycopg://user:pw@host/db``); unset means
    SQLite at ``data_dir/factory.db``. Secret: it may carry a password."""
    config_dir: Path | None = Field(default=None, validation_alias=_env("FACTORY_CONFIG_DIR"))
    """The factory config directory (``factoryd init``): its ``automations/`` and ``harness/``
    are the defaults of the two folders below. Agents never write it."""
    automations_dir: Path = Field(
        default=Path("automations"), validation_alias=_env("FACTORY_AUTOMATIONS_DIR")
    )
    """Folder of automation YAML files (default ``CONFIG_DIR/automations`` when a config
    directory is set, else ``automations``)."""
    harness_dir: Path = Field(default=Path("harness"), validation_alias=_env("FACTORY_HARNESS_DIR"))
    """Folder of harness documents and policy.yaml (default ``CONFIG_DIR/harness``)."""
    host: str = Field(default="127.0.0.1", validation_alias=_env("FACTORY_HOST"))
    """Address the viewer and webhook endpoint bind to."""
    port: int = Field(default=8765, ge=0, le=65535, validation_alias=_env("FACTORY_PORT"))
    """Port of the viewer and webhook endpoint."""
    viewer_token: SecretStr | None = Field(
        default=None, validation_alias=_env("FACTORY_VIEWER_TOKEN")
    )
    """Access token required by the viewer when bound to anything but loopback."""
    concurrency: int = Field(default=2, ge=1, le=64, validation_alias=_env("FACTORY_CONCURRENCY"))
    """How many runs may execute at once, across all automations."""
    worker_concurrency: int = Field(
        default=2, ge=1, le=64, validation_alias=_env("FACTORY_WORKER_CONCURRENCY")
    )
    """How many runs one ``factoryd worker`` executes at once (distributed mode)."""
    worker_lapse_s: float = Field(default=15.0, gt=0, validation_alias=_env("FACTORY_WORKER_LAPSE"))
    """Seconds without a heartbeat after which a worker counts as dead and its runs are
    recovered by a live worker (distributed mode; workers beat every third of it)."""
    poll_interval_s: float = Field(
        default=60.0, ge=0, validation_alias=_env("FACTORY_POLL_INTERVAL")
    )
    """Seconds between polls of GitHub for changes webhooks may have missed; 0 turns it off."""
    github_write_pacing_s: float = Field(
        default=1.0, ge=0, validation_alias=_env("FACTORY_GITHUB_WRITE_PACING")
    )
    """Minimum seconds between two GitHub writes (GitHub's guidance against abuse limits)."""
    claim_lease_s: float = Field(default=120.0, gt=0, validation_alias=_env("FACTORY_CLAIM_LEASE"))
    """Seconds a claim on a subject lasts without a heartbeat (renewed every third of it)."""
    keep_failed_workspaces_s: float = Field(
        default=24 * 3600.0, ge=0, validation_alias=_env("FACTORY_KEEP_FAILED_WORKSPACES")
    )
    """How long the workspace of a failed run is kept for inspection."""
    log_format: Literal["auto", "json", "pretty"] = Field(
        default="auto", validation_alias=_env("FACTORY_LOG_FORMAT")
    )
    """Log rendering: JSON lines when not on a TTY (auto), or forced."""
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", validation_alias=_env("FACTORY_LOG_LEVEL")
    )
    """Lowest log level written."""

    @field_validator("github_repository")
    @classmethod
    def _repo_is_owner_name(cls, value: str | None) -> str | None:
        if value is not None and (value.count("/") != 1 or not all(value.split("/"))):
            raise ValueError(f"GITHUB_REPOSITORY must be 'owner/name', got {value!r}")
        return value

    @model_validator(mode="after")
    def _app_settings_complete(self) -> Settings:
        app = [
            self.github_app_id,
            self.github_app_private_key_path,
            self.github_app_installation_id,
        ]
        if any(v is not None for v in app) and not all(v is not None for v in app):
            raise ValueError(
                "GitHub App auth needs GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY_PATH and "
                "GITHUB_APP_INSTALLATION_ID together"
            )
        return self

    @model_validator(mode="after")
    def _folders_in_config_dir(self) -> Settings:
        if self.config_dir is not None:
            if "automations_dir" not in self.model_fields_set:
                self.automations_dir = self.config_dir / "automations"
            if "harness_dir" not in self.model_fields_set:
                self.harness_dir = self.config_dir / "harness"
        return self

    @classmethod
    def for_config_dir(cls, config_dir: Path) -> Settings:
        """Settings whose folders are ``config_dir``'s (``--config``): its ``automations/``
        and ``harness/`` whatever the environment says, and its ``.env``, which wins over
        the working directory's. Raises pydantic's ValidationError like ``Settings()``."""
        return cls(
            _env_file=(Path(".env"), config_dir / ".env"),
            config_dir=config_dir,
            automations_dir=config_dir / "automations",
            harness_dir=config_dir / "harness",
        )

    @property
    def config_root(self) -> Path:
        """The factory config directory: ``config_dir``, else the folder holding the
        automations folder (this source tree when run from it)."""
        return self.config_dir if self.config_dir is not None else self.automations_dir.parent

    @property
    def db_path(self) -> Path:
        """The SQLite run store inside the data directory."""
        return self.data_dir / "factory.db"

    @property
    def database_url(self) -> str | None:
        """``FACTORY_DATABASE_URL`` if set (the store is opened by URL), else None (SQLite)."""
        if self.database_url_setting is None:
            return None
        return self.database_url_setting.get_secret_value().strip() or None

    @property
    def store_location(self) -> str | Path:
        """Where the run store is: ``database_url`` when set, else the SQLite file ``db_path``."""
        return self.database_url or self.db_path

    def secret_values(self) -> list[str]:
        """Every configured secret's plain value (non-empty), for redaction. Never log this."""
        values: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                plain = value.get_secret_value()
                if plain:
                    values.append(plain)
        return values

    def to_env(self) -> dict[str, str]:
        """Return these settings as environment variables (secrets in plain text!).

        For handing the same configuration to a child process; never log the result.
        """
        env: dict[str, str] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            env[str(field.validation_alias.choices[0])] = str(value)  # type: ignore[union-attr]
        return env

    def missing_for_start(self) -> list[str]:
        """What ``factoryd start`` needs and is not configured, as env variable names."""
        missing: list[str] = []
        if not self.github_repository:
            missing.append("GITHUB_REPOSITORY")
        if self.github_token is None and self.github_app_id is None:
            missing.append("GITHUB_TOKEN (or GITHUB_APP_ID + GITHUB_APP_PRIVATE_KEY_PATH + …)")
        if self.anthropic_api_key is None:
            missing.append("ANTHROPIC_API_KEY")
        if self.host not in {"127.0.0.1", "localhost", "::1"} and self.viewer_token is None:
            missing.append("FACTORY_VIEWER_TOKEN (required when FACTORY_HOST is not loopback)")
        return missing
