"""Sanitizing agent-written text before the factory writes it to GitHub.

The agent reads text written by strangers and may have been talked into anything, so every
title and body it asks us to publish passes, in this order:

1. ``strip_invisible``: no hidden text (below);
2. ``strip_markers``: no forged idempotency markers (see ``factory.forge.markers``);
3. ``redact_secrets``: every known secret value (the process-wide ``redactor`` plus the run's
   own values such as canaries) and anything shaped like a credential becomes ``[redacted]``;
4. ``neutralize_mentions``: ``@user`` and ``@org/team`` become ``@\u200buser`` (a zero-width
   space after the ``@``), which GitHub does not turn into a notification;
5. ``cap_text``: at most ``BODY_CAP`` characters, with a note saying how much was cut.

The order is the point. Steps 1 and 2 only remove characters, and removing can *join* what
was split: ``Hun\u200bter2`` or ``Hun<!-- factoryd -->ter2`` becomes the secret
``Hunter2``, ``<!-\u200b- factoryd:v1 …`` a marker. So removals come first (invisible code
points before markers, whose removal creates no invisible code point), redaction sees the
joined text, and step 4, which *inserts* a character, comes after redaction (``@Hunter2``
is redacted, not posted as ``@\u200bHunter2``).

Hidden text (``strip_invisible``). A compromised agent could hide instructions for the
automations that read its comments in code points that render as nothing, or reorder what a
human sees with bidirectional controls. Removed are:

- every code point of the categories Cf (format: zero-width spaces and joiners, bidi
  embeddings, overrides, isolates and marks, word joiner, BOM, soft hyphen, the tag block
  U+E0001/E0020–E007F…), Co (private use), Cs (lone surrogates), Cn (unassigned and
  noncharacters, including the rest of the tag block) and Cc (controls) except tab,
  newline and carriage return;
- the default-ignorable code points of other categories: combining grapheme joiner, Hangul
  fillers, Khmer inherent vowels, Mongolian free variation selectors, variation selectors
  U+FE00–FE0F and U+E0100–E01EF (the "emoji smuggling" channel);
- U+2028 and U+2029 become a plain newline.

Two exceptions keep emoji intact: a ZERO WIDTH JOINER between two pictographs (category So,
or a skin-tone modifier, or a kept VS16 after one) as in 👩‍💻, and one VARIATION SELECTOR-16
right after a pictograph as in ❤️. Decided against keeping: tag sequences (subdivision flags
degrade to 🏴), VS16 after a digit (keycaps lose it, still render), ZWJ and ZWNJ between
letters (Indic and Persian shaping falls back to the default form). Secrets that themselves
contain hidden code points are not matched once those are removed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from factory.forge.markers import strip_markers
from factory.logs import REDACTED, redactor

BODY_CAP = 60_000
"""Characters kept of a body (GitHub refuses bodies over 65536)."""

TITLE_CAP = 256
"""Characters kept of a title (GitHub's limit)."""

_ZERO_WIDTH = "\u200b"
_ZWJ, _VS16 = "\u200d", "\ufe0f"

_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})
_KEPT_CONTROLS = frozenset("\t\n\r")
_LINE_BREAKS = frozenset("\u2028\u2029")
_IGNORABLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong / jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors (and vowel separator)
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors 1-16
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xE0000, 0xE0FFF),  # tags, variation selectors 17-256, the rest of the block
)
"""Default-ignorable code points whose category is not already removed (Mn, Lo)."""
_SKIN_TONES = range(0x1F3FB, 0x1F400)
_ASCII_CONTROLS: dict[int, None] = {
    c: None for c in (*range(0x20), 0x7F) if chr(c) not in _KEPT_CONTROLS
}
"""The hidden code points of pure ASCII text (a fast path for ``strip_invisible``)."""

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


def _hidden(char: str) -> bool:
    if char in _KEPT_CONTROLS:
        return False
    if unicodedata.category(char) in _HIDDEN_CATEGORIES:
        return True
    code = ord(char)
    return any(low <= code <= high for low, high in _IGNORABLE_RANGES)


def _pictograph(char: str) -> bool:
    """Whether ``char`` (one code point, or "" at the end of the text) is an emoji base."""
    return len(char) == 1 and (unicodedata.category(char) == "So" or ord(char) in _SKIN_TONES)


def _emoji_glue(char: str, before: str, after: str) -> bool:
    """Whether hidden ``char`` between ``before`` and ``after`` holds an emoji together."""
    if char == _VS16:
        return _pictograph(before)
    return char == _ZWJ and (before == _VS16 or _pictograph(before)) and _pictograph(after)


def strip_invisible(text: str) -> str:
    """Return ``text`` without hidden code points (the module docstring says which)."""
    if text.isascii():
        return text.translate(_ASCII_CONTROLS)
    kept: list[str] = []
    for index, char in enumerate(text):
        if char in _LINE_BREAKS:
            kept.append("\n")
        elif not _hidden(char) or (
            kept and _emoji_glue(char, kept[-1], text[index + 1 : index + 2])
        ):
            kept.append(char)
    return "".join(kept)


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


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` without hidden code points, markers or secrets (steps 1–3, in order)."""
    return redact_secrets(strip_markers(strip_invisible(text)), secrets)


def sanitize_body(text: str, secrets: Iterable[str] = (), limit: int = BODY_CAP) -> str:
    """Return agent-written ``text`` made safe to publish: steps 1–5 of the module docstring."""
    text = scrub_text(text, secrets)
    text = neutralize_mentions(text)
    return cap_text(text, limit)


def sanitize_title(text: str, secrets: Iterable[str] = ()) -> str:
    """Return an agent-written title on one line, sanitized like a body and capped to 256."""
    one_line = " ".join(strip_markers(strip_invisible(text)).split())
    return sanitize_body(one_line, secrets, TITLE_CAP)
