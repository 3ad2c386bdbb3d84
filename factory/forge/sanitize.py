"""Sanitizing agent-written text before the factory writes it to GitHub.

The agent reads text written by strangers and may have been talked into anything, so every
title and body it asks us to publish passes, in this order:

1. ``strip_markers``: no forged idempotency markers (see ``factory.forge.markers``);
2. ``neutralize_mentions``: ``@user`` and ``@org/team`` become ``@\u200buser`` (a zero-width
   space after the ``@``), which GitHub does not turn into a notification;
3. ``redact_secrets``: every known secret value (the process-wide ``redactor`` plus the run's
   own values such as canaries) and anything shaped like a credential becomes ``[redacted]``;
4. ``cap_text``: at most ``BODY_CAP`` characters, with a note saying how much was cut.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from factory.forge.markers import strip_markers
from factory.logs import REDACTED, redactor

BODY_CAP = 60_000
"""Characters kept of a body (GitHub refuses bodies over 65536)."""

TITLE_CAP = 256
"""Characters kept of a title (GitHub's limit)."""

_ZERO_WIDTH = "\u200b"

# @login (1-39 chars of letters, digits, single hyphens) or @org/team. Not after a word
# character, "/" or "." (e-mail addresses, URLs), and not already neutralized.
_MENTION_RE = re.compile(
    r"(?<![\w/.@`])@(?=[A-Za-z0-9])(?P<name>[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}(?:/[\w.-]+)?)"
)

_TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S
    ),
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"sk-ant-[A-Za-z0-9_-]{10,}"),
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
)
"""Credential shapes redacted even when their value is not known to the daemon."""


def neutralize_mentions(text: str) -> str:
    """Return ``text`` with every @mention broken by a zero-width space so nobody is pinged."""
    return _MENTION_RE.sub(lambda m: f"@{_ZERO_WIDTH}{m['name']}", text)


def redact_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with known secret values and credential-shaped strings redacted.

    Known values are the process-wide ``redactor``'s plus ``secrets`` (values shorter than
    4 characters are ignored: they would redact ordinary words).
    """
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = redactor.scrub(text)
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def cap_text(text: str, limit: int = BODY_CAP) -> str:
    """Return ``text`` cut to at most ``limit`` characters, ending with a note of the cut."""
    if len(text) <= limit:
        return text
    note = f"\n\n[… truncated by factoryd: {len(text) - limit} characters cut …]"
    keep = max(limit - len(note), 0)
    return text[:keep] + note[: limit - keep]


def sanitize_body(text: str, secrets: Iterable[str] = (), limit: int = BODY_CAP) -> str:
    """Return agent-written ``text`` made safe to publish: steps 1–4 of the module docstring."""
    text = strip_markers(text)
    text = neutralize_mentions(text)
    text = redact_secrets(text, secrets)
    return cap_text(text, limit)


def sanitize_title(text: str, secrets: Iterable[str] = ()) -> str:
    """Return an agent-written title on one line, sanitized like a body and capped to 256."""
    one_line = " ".join(strip_markers(text).split())
    return sanitize_body(one_line, secrets, TITLE_CAP)
