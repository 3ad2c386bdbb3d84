"""What the daemon checks and writes when a challenger session answers a draft proposal.

A challenged automation (``challenge:`` in its YAML, see ``factory.daemon.challenge``) makes
its proposal in two sessions. These are the pure parts:

- ``grade_table``: the grades of a markdown table ``| area | grade | evidence |`` (grades
  A-F, A best; rows with another grade cell, e.g. ``ungraded``, are not grades);
- ``check_only_lower``: the challenger may keep or lower each of the draft's grades, never
  raise, add or drop one (raises OutputRefused saying which);
- ``challenged_body``: the description of the final proposal — the challenger's text, a
  table of each grade as drafted and as it stands, then the draft's own text (the first
  session's evidence), so that a reader sees both sessions' evidence in one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from factory.errors import OutputRefused

KIND = "propose_config_change"
GRADES = "ABCDEF"
"""Letter grades, best first."""
CHALLENGED = "B"
"""Grades this good or better are the ones the challenger must try to refute."""
_ROW = re.compile(r"^\s*\|(.+)\|\s*$")


def grade_table(text: str) -> dict[str, str]:
    """Return ``{area: grade}`` of the table rows of ``text`` whose second cell is A-F."""
    grades: dict[str, str] = {}
    for line in text.splitlines():
        match = _ROW.match(line)
        if match is None:
            continue
        cells = [cell.strip() for cell in match.group(1).split("|")]
        if len(cells) < 2 or not cells[0]:
            continue
        grade = cells[1].strip("*_` ").upper()
        if len(grade) == 1 and grade in GRADES:
            grades[cells[0].strip("*_` ")] = grade
    return grades


def file_text(payload: Mapping[str, Any], path: str) -> str | None:
    """Return the new text of ``path`` in a proposal payload, or None when it is not changed."""
    for change in payload.get("changes", []):
        if isinstance(change, Mapping) and change.get("path") == path:
            content = change.get("content")
            return content if isinstance(content, str) else None
    return None


def check_draft(payload: Mapping[str, Any], path: str) -> dict[str, str]:
    """Return the draft's grades in ``path``; raise OutputRefused when it grades nothing."""
    text = file_text(payload, path)
    if text is None:
        raise OutputRefused(f"{KIND}: the draft must change {path} (the file that is graded)")
    grades = grade_table(text)
    if not grades:
        raise OutputRefused(
            f"{KIND}: {path} in the draft has no grade table (| area | grade | evidence |"
            f" rows with grades {', '.join(GRADES)})"
        )
    return grades


def check_only_lower(draft: Mapping[str, str], final: Mapping[str, str], path: str) -> None:
    """Raise OutputRefused unless ``final`` has exactly ``draft``'s areas, none graded better."""
    problems: list[str] = []
    for area, grade in draft.items():
        if area not in final:
            problems.append(f"area {area!r} was dropped (graded {grade} in the draft)")
        elif GRADES.index(final[area]) < GRADES.index(grade):
            problems.append(f"area {area!r} was raised from {grade} to {final[area]}")
    problems += [f"area {a!r} is not in the draft" for a in final if a not in draft]
    if problems:
        raise OutputRefused(
            f"{KIND}: the challenger may only keep or lower the draft's grades in {path}: "
            + "; ".join(problems)
        )


def grades_table(draft: Mapping[str, str], final: Mapping[str, str]) -> str:
    """Return a markdown table of each area: drafted grade, final grade, and what happened."""
    rows = ["| area | draft (first session) | final (after the challenge) | |", "|---|---|---|---|"]
    for area, grade in draft.items():
        now = final.get(area, grade)
        if now != grade:
            verdict = "lowered by the challenger"
        elif GRADES.index(grade) <= GRADES.index(CHALLENGED):
            verdict = "stands: the challenger could not refute it"
        else:
            verdict = "not challenged (below B)"
        rows.append(f"| {area.replace('|', '/')} | {grade} | {now} | {verdict} |")
    return "\n".join(rows)


def challenged_body(
    final_body: str,
    draft: Mapping[str, Any],
    grades: tuple[Mapping[str, str], Mapping[str, str]] | None,
    path: str | None,
) -> str:
    """Return the final proposal's description: both sessions' evidence, the draft's last."""
    parts = [f"## Second session: the challenger\n\n{final_body.strip()}"]
    if grades is not None:
        parts.append("## Grades, as drafted and as they stand\n\n" + grades_table(*grades))
    parts.append(
        "## First session: the draft (the challenger saw only this)\n\n"
        f"{str(draft.get('body', '')).strip()}"
    )
    if path is not None:
        text = file_text(draft, path)
        if text is not None:
            parts.append(
                f"<details><summary>{path} as drafted</summary>\n\n{text.strip()}\n\n</details>"
            )
    return "\n\n".join(parts)


def merged_evidence(first: Sequence[str], second: Sequence[str]) -> list[str]:
    """Return the run ids of both sessions' evidence, each once, the draft's first."""
    return list(dict.fromkeys([*first, *second]))
