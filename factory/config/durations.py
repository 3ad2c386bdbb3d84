"""Durations as written in configuration ("90s", "30m", "2h", "1d", "1h30m") → whole seconds."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNIT_SECONDS = (86400, 3600, 60, 1)


def parse_duration(value: object) -> int:
    """Return the seconds in a duration such as "90s", "30m", "2h", "1d", "1h30m" (or an int).

    Raises ValueError for anything else (negative, empty, unknown unit, wrong order).
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"invalid duration {value!r}: must not be negative")
        return value
    if not isinstance(value, str):
        raise ValueError(f"invalid duration {value!r}: expected e.g. 90s, 30m, 2h, 1d, 1h30m")
    match = _DURATION.fullmatch(value.strip())
    if not value.strip() or match is None:
        raise ValueError(f"invalid duration {value!r}: expected e.g. 90s, 30m, 2h, 1d, 1h30m")
    return sum(int(g) * s for g, s in zip(match.groups(), _UNIT_SECONDS, strict=True) if g)


def _positive_duration(value: object) -> int:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"invalid duration {value!r}: must be more than zero")
    return seconds


Duration = Annotated[int, BeforeValidator(parse_duration)]
"""A duration in whole seconds, written "90s", "30m", "2h", "1d", "1h30m" or as an int."""
PositiveDuration = Annotated[int, BeforeValidator(_positive_duration)]
"""A duration of at least one second."""
