"""Logging setup: structlog events, JSON lines off a TTY, pretty on one; secrets scrubbed.

Every rendered line passes through ``Redactor``, which replaces any configured secret value
(and any value registered later, e.g. a canary or an installation token) with ``[redacted]``.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

from factory.settings import Settings

REDACTED = "[redacted]"


class Redactor:
    """A structlog processor that replaces known secret values anywhere in an event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Register more secret values (values shorter than 4 characters are ignored)."""
        with self._lock:
            merged = set(self._secrets) | {s for s in secrets if len(s) >= 4}
            self._secrets = tuple(sorted(merged, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        """Return ``text`` with every registered secret replaced."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def __call__(
        self, logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        return {k: self._scrub_value(v) for k, v in event_dict.items()}

    def _scrub_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self._scrub_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub_value(v) for v in value]
        if isinstance(value, int | float | bool) or value is None:
            return value
        return self.scrub(repr(value))


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of the write (not at configure time)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


redactor = Redactor()
"""The process-wide redactor; ``configure_logging`` loads the settings' secrets into it."""


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Configure structlog (and stdlib logging) for the process; safe to call again."""
    out: Any = stream if stream is not None else _CurrentStderr()
    redactor.add(settings.secret_values())
    pretty = settings.log_format == "pretty" or (
        settings.log_format == "auto" and hasattr(out, "isatty") and out.isatty()
    )
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if pretty
        else structlog.processors.JSONRenderer(sort_keys=False)
    )
    level = getattr(logging, settings.log_level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redactor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(stream=out, level=max(level, logging.WARNING), force=True)
    _init_sentry(settings)


def _init_sentry(settings: Settings) -> None:
    if settings.sentry_dsn is None:
        return
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        send_default_pii=False,
        include_local_variables=False,
        traces_sample_rate=0.0,
    )
