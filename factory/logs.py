"""Logging setup: structlog events, JSON lines off a TTY, pretty on one; secrets scrubbed.

Every structlog line, every stdlib logging record (uvicorn, APScheduler, PyGithub) and every
event sent to Sentry passes through ``Redactor``, which replaces any configured secret
value (and any value registered later, e.g. a canary or an installation token) with
``[redacted]``.
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
        """Return ``text`` with every registered secret replaced.

        Every occurrence of every secret is located in the original text first, and
        overlapping or nested occurrences are merged into one span before replacing, so a
        secret that contains or overlaps another never leaves a fragment behind, and a
        replacement marker is never matched again.
        """
        spans: list[tuple[int, int]] = []
        for secret in self._secrets:  # longest first; the merge below makes order moot
            start = text.find(secret)
            while start != -1:
                spans.append((start, start + len(secret)))
                start = text.find(secret, start + 1)
        if not spans:
            return text
        spans.sort()
        pieces: list[str] = []
        kept_to = 0
        span_start, span_end = spans[0]
        for start, end in spans[1:]:
            if start < span_end:
                span_end = max(span_end, end)
                continue
            pieces += [text[kept_to:span_start], REDACTED]
            kept_to = span_end
            span_start, span_end = start, end
        pieces += [text[kept_to:span_start], REDACTED, text[span_end:]]
        return "".join(pieces)

    def __call__(
        self, logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        return {self.scrub_key(k): self.scrub_value(v) for k, v in event_dict.items()}

    def scrub_key(self, key: Any) -> Any:
        """Return a dict key scrubbed: strings as text, scalars as they are, others by repr."""
        if isinstance(key, str):
            return self.scrub(key)
        if isinstance(key, int | float | bool) or key is None:
            return key
        return self.scrub(repr(key))

    def scrub_value(self, value: Any) -> Any:
        """Return ``value`` (str, dict, list, scalar, or anything by its repr) scrubbed.

        Dict keys are scrubbed as well as values, at every depth.
        """
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub_key(k): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub_value(v) for v in value]
        if isinstance(value, int | float | bool) or value is None:
            return value
        return self.scrub(repr(value))


class RedactingFilter(logging.Filter):
    """A stdlib logging filter: the message and any traceback pass the redactor too.

    Covers what does not log through structlog: uvicorn, APScheduler, PyGithub, urllib3.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record with secrets replaced; always keeps it."""
        record.msg = redactor.scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redactor.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


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
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
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
        before_send=lambda event, hint: redactor.scrub_value(event),
    )
