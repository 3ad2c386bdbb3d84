"""Path globs as the harness policy writes them: ``*`` within a segment, ``**`` across."""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated

from pydantic import AfterValidator


@cache
def glob_regex(glob: str) -> re.Pattern[str]:
    """Return a regex for a path glob: ``*`` within a segment, ``**`` across segments.

    Raises ValueError for an empty glob.
    """
    if not glob:
        raise ValueError("empty path glob")
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out))


def matches_any(path: str, globs: list[str]) -> bool:
    """Return whether ``path`` (repo-relative, '/'-separated) fully matches one of ``globs``."""
    return any(glob_regex(g).fullmatch(path) for g in globs)


def _compiled(globs: list[str]) -> list[str]:
    for glob in globs:
        glob_regex(glob)
    return globs


Globs = Annotated[list[str], AfterValidator(_compiled)]
"""A list of path globs, each checked to compile when the policy is loaded."""
