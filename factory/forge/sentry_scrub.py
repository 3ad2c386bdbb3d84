"""Scrubbing what Sentry captured before the model reads it: secrets, PII, forged fences.

A Sentry event is written by the application's users as much as by its code: a request's
headers, cookies, query string and form data, the user's e-mail and IP address, whatever a
log message or an exception value happened to format. ``SentryScrubber`` removes, from every
string it is handed:

- known secrets: the run's own values and the process-wide ``redactor``'s (the daemon's
  tokens, the Sentry token among them), credential shapes (``forge.sanitize``), hidden code
  points and forged factoryd markers (``sanitize.scrub_text``); Sentry tokens, ``Bearer`` /
  ``Basic`` credentials, JSON web tokens and the user-info part of URLs
  (``scheme://user:pass@host``);
- values under keys Sentry itself treats as sensitive (``SENSITIVE``, matched as Sentry does:
  anywhere in the key, any case, ``-`` read as ``_``): as ``key=value`` / ``key: value`` in
  free text (query strings, form bodies, log lines), and as structured pairs (headers,
  cookies, query, form data, env, breadcrumb data, extra), where a value that itself contains
  a sensitive word is removed too, as Sentry's server-side scrubbing does;
- PII: e-mail addresses (``[email]``), IP addresses (``[ip]``; loopback and unspecified are
  kept: they name no one) and card numbers that pass the Luhn check (``[card]``);
- fence forgeries: runs of three or more ``<`` or ``>`` become ``‹‹‹`` / ``›››``, so Sentry
  text cannot close the data fence it is shown in (``read_tool.authored``) and speak outside.

Cookies are never shown with their values. Source context lines get the same scrubbing,
except that ``key = value`` redacts only quoted literals there, so code stays readable.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

from factory.forge.sanitize import scrub_text
from factory.logs import REDACTED

SENSITIVE: tuple[str, ...] = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "api_key",
    "apikey",
    "access_token",
    "auth",
    "credentials",
    "mysql_pwd",
    "privatekey",
    "private_key",
    "token",
    "bearer",
    "session",
    "csrf",
    "xsrf",
    "cookie",
    "signature",
    "card[number]",
    "dsn",
)
"""Key parts whose values are removed (Sentry's default scrubbed fields, plus session and
CSRF tokens, cookies, signatures and DSNs)."""

EMAIL = "[email]"
IP = "[ip]"
CARD = "[card]"

_WORDS = "|".join(re.escape(w).replace("_", "[_-]") for w in SENSITIVE)
_KEY = rf"[\w.\[\]-]*(?:{_WORDS})[\w.\[\]-]*"
_KEY_VALUE = re.compile(
    rf"(?i)(?P<key>{_KEY})(?P<sep>[\"']?\s*[:=]\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s&\"',;(){}\[\]<>]+)"
)
_KEY_LITERAL = re.compile(
    rf"(?i)(?P<key>{_KEY})(?P<sep>[\"']?\s*[:=]\s*)(?P<value>\"[^\"]*\"|'[^']*')"
)
_SENSITIVE_WORD = re.compile(rf"(?i)(?:{_WORDS})")
_CREDENTIALS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@<>\"']+@"), rf"\1{REDACTED}@"),
    (
        re.compile(r"(?i)\b(bearer|basic|token|digest)(\s+)[A-Za-z0-9._~+/=-]{6,}"),
        rf"\1\2{REDACTED}",
    ),
    (re.compile(r"\bsntry[su]_[A-Za-z0-9_=+/-]{8,}"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%\w+)?(?![\w:])")
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_EXCEPTION_NAME = re.compile(r"[a-z](?:Error|Exception|Warning|Failure|Denied|Expired|Invalid)$")
_FENCE_OPEN = re.compile(r"<{3,}")
_FENCE_CLOSE = re.compile(r">{3,}")


def sensitive_key(key: object) -> bool:
    """Whether ``key`` names a value Sentry treats as sensitive (see SENSITIVE)."""
    return bool(_SENSITIVE_WORD.search(str(key).replace("-", "_")))


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        n = int(char)
        if index % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _ip(match: re.Match[str]) -> str:
    text = match.group(0)
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return text
    return text if address.is_loopback or address.is_unspecified else IP


def _keyed(match: re.Match[str]) -> str:
    """Remove the value of a sensitive ``key=value`` or ``key: value``; an exception's
    ``AuthError: message`` is a type and its message, not a key and a secret."""
    if match["sep"].strip() == ":" and _EXCEPTION_NAME.search(match["key"]):
        return match.group(0)
    return f"{match['key']}{match['sep']}{REDACTED}"


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return CARD if 13 <= len(digits) <= 19 and _luhn(digits) else match.group(0)


class SentryScrubber:
    """Scrubs Sentry text of secrets (the run's and the process's), PII and fence forgeries."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Scrub ``secrets`` besides the process-wide redactor's values."""
        self.secrets = tuple(secrets)

    def text(self, value: object, *, code: bool = False) -> str:
        """Return ``value`` as scrubbed text (``code``: a source line, see the docstring)."""
        text = scrub_text("" if value is None else str(value), self.secrets)
        for pattern, replacement in _CREDENTIALS:
            text = pattern.sub(replacement, text)
        rule = _KEY_LITERAL if code else _KEY_VALUE
        text = rule.sub(_keyed, text)
        text = _EMAIL.sub(EMAIL, text)
        text = _IPV4.sub(_ip, text)
        text = _IPV6.sub(_ip, text)
        text = _CARD.sub(_card, text)
        text = _FENCE_OPEN.sub("‹‹‹", text)
        return _FENCE_CLOSE.sub("›››", text)

    def value(self, key: object, value: object) -> str:
        """Return a structured value scrubbed: removed when its key or the value itself
        carries a sensitive word, else scrubbed as text."""
        if sensitive_key(key):
            return REDACTED
        if isinstance(value, Mapping | list | tuple):
            return self.tree(value)
        text = "" if value is None else str(value)
        if _SENSITIVE_WORD.search(text.replace("-", "_")):
            return REDACTED
        return self.text(text)

    def pairs(self, pairs: object, *, hide_values: bool = False) -> list[str]:
        """Return ``key=value`` lines of a Sentry pair list (``[[k, v], …]``) or mapping,
        every value scrubbed (``hide_values``: every value removed, as for cookies)."""
        items: list[tuple[object, object]] = []
        if isinstance(pairs, Mapping):
            items = list(pairs.items())
        elif isinstance(pairs, list | tuple):
            items = [(p[0], p[1]) for p in pairs if isinstance(p, list | tuple) and len(p) == 2]
        elif isinstance(pairs, str) and pairs:
            return [self.text(pairs)]
        out = []
        for key, value in items:
            shown = REDACTED if hide_values else self.value(key, value)
            out.append(f"{self.text(key)}={shown}")
        return out

    def tree(self, value: Any, depth: int = 0) -> str:
        """Return nested data (dicts, lists, scalars) as one compact scrubbed line."""
        if depth > 4:
            return "…"
        if isinstance(value, Mapping):
            inner = ", ".join(
                f"{self.text(k)}: {REDACTED if sensitive_key(k) else self._leaf(v, depth)}"
                for k, v in value.items()
            )
            return "{" + inner + "}"
        if isinstance(value, list | tuple):
            return "[" + ", ".join(self._leaf(v, depth) for v in value) + "]"
        return self.text(value)

    def _leaf(self, value: Any, depth: int) -> str:
        if isinstance(value, Mapping | list | tuple):
            return self.tree(value, depth + 1)
        text = "" if value is None else str(value)
        return REDACTED if _SENSITIVE_WORD.search(text.replace("-", "_")) else self.text(text)
