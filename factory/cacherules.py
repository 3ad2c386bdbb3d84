"""The Messages API's prompt-cache rules that several layers need (base: imports nothing).

- A cache breakpoint whose prefix is shorter than the model's minimum cacheable length is
  not cached: the request succeeds and both cache counters stay 0. Minimums (Anthropic's
  prompt-caching docs): 4,096 tokens for Claude Haiku 4.5 and Opus 4.5 and later; 2,048 for
  Haiku 3 and 3.5; 1,024 for the Sonnet class and Opus 4 / 4.1.
- ``cache_control: {type: ephemeral}`` lives 5 minutes from its last use; ``ttl: "1h"`` one
  hour, its writes billed at 2x the base input price (5-minute writes 1.25x, reads 0.1x).
  In one request, 1-hour breakpoints must come before 5-minute ones.
- Token counts here are an estimate, about four characters per token (the rule of thumb
  Anthropic gives for English text); only ``count_tokens`` gives the real number.
"""

from __future__ import annotations

import re

FIVE_MINUTES_S = 300.0
"""The default cache lifetime, in seconds."""
ONE_HOUR = "1h"
"""The ``ttl`` value of the long-lived cache."""
CHARS_PER_TOKEN = 4
"""How many characters make one token, roughly, for the estimate."""

_NEW_STYLE = re.compile(r"claude-(opus|sonnet|haiku)-(\d+)(?:-(\d{1,2}))?(?:-|$)")
_OLD_STYLE = re.compile(r"claude-(\d+)(?:-(\d{1,2}))?-(opus|sonnet|haiku)")


def model_family(model: str) -> tuple[str, float] | None:
    """Return (family, version) of a Claude model id, e.g. ("haiku", 4.5); None if unknown."""
    new = _NEW_STYLE.match(model)
    if new:
        family, major, minor = new.group(1), new.group(2), new.group(3)
        return family, float(f"{major}.{minor or 0}")
    old = _OLD_STYLE.match(model)
    if old:
        major, minor, family = old.group(1), old.group(2), old.group(3)
        return family, float(f"{major}.{minor or 0}")
    return None


def min_cacheable_tokens(model: str) -> int:
    """Return the model's minimum cacheable prefix length in tokens (1,024 if unknown)."""
    found = model_family(model)
    if found is None:
        return 1024
    family, version = found
    if (family == "haiku" and version >= 4.5) or (family == "opus" and version >= 4.5):
        return 4096
    if family == "haiku":
        return 2048
    return 1024


def estimate_tokens(text: str) -> int:
    """Return the estimated token count of ``text`` (characters / 4, rounded up)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def prefix_ttl(longest_gap_s: float) -> str | None:
    """Return "1h" when two model calls may be further apart than the 5-minute TTL, else None.

    ``longest_gap_s``: the longest a session may wait between calls (a command's timeout,
    a wait). None means the default 5-minute TTL.
    """
    return ONE_HOUR if longest_gap_s > FIVE_MINUTES_S else None
