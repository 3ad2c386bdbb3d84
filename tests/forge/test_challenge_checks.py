"""The daemon's checks of a challenger's answer: grades may only be kept or lowered."""

from __future__ import annotations

import pytest

from factory.errors import OutputRefused
from factory.forge.challenge_checks import (
    challenged_body,
    check_draft,
    check_only_lower,
    grade_table,
)

PATH = "harness/quality.md"
TABLE = (
    "# Quality\n\n| area | grade | evidence |\n|---|---|---|\n"
    "| calculator | A | calc.py |\n| **cli** | b | cli.py |\n| docs | ungraded | |\n"
)
DRAFT = {"calculator": "A", "cli": "B", "docs": "D"}


def _refusal(final: dict[str, str]) -> str:
    with pytest.raises(OutputRefused) as caught:
        check_only_lower(DRAFT, final, PATH)
    return str(caught.value)


def test_grade_table_reads_letter_grades_and_skips_ungraded_rows() -> None:
    """Rows with A-F grades count (case and emphasis aside); header and ungraded rows do not."""
    assert grade_table(TABLE) == {"calculator": "A", "cli": "B"}


def test_lowering_and_keeping_grades_is_accepted() -> None:
    """A grade kept or lowered passes the check."""
    assert check_only_lower(DRAFT, {"calculator": "C", "cli": "B", "docs": "F"}, PATH) is None


def test_a_raised_grade_is_refused() -> None:
    """The challenger may not raise a grade."""
    assert _refusal({"calculator": "A", "cli": "A", "docs": "D"}) == (
        "propose_config_change: the challenger may only keep or lower the draft's grades in"
        " harness/quality.md: area 'cli' was raised from B to A"
    )


def test_a_dropped_area_is_refused() -> None:
    """The challenger may not drop an area the draft graded (a grade it could not lower)."""
    assert _refusal({"calculator": "A", "cli": "B"}) == (
        "propose_config_change: the challenger may only keep or lower the draft's grades in"
        " harness/quality.md: area 'docs' was dropped (graded D in the draft)"
    )


def test_an_added_area_is_refused() -> None:
    """The challenger may not grade an area the draft did not."""
    assert _refusal({**DRAFT, "api": "C"}) == (
        "propose_config_change: the challenger may only keep or lower the draft's grades in"
        " harness/quality.md: area 'api' is not in the draft"
    )


def test_a_draft_without_the_graded_file_is_refused() -> None:
    """The draft must change the file whose grades are challenged."""
    draft = {"changes": [{"path": "harness/spec.md", "content": TABLE}]}
    with pytest.raises(OutputRefused, match=r"the draft must change harness/quality\.md"):
        check_draft(draft, PATH)


def test_the_body_keeps_the_draft_when_the_challenger_says_nothing_of_it() -> None:
    """The description holds the draft's body even if the challenger's text omits it."""
    draft = {"body": "calculator A: test_add passes", "changes": []}
    body = challenged_body("All stands.", draft, None, None)
    assert body.split("\n\n") == [
        "## Second session: the challenger",
        "All stands.",
        "## First session: the draft (the challenger saw only this)",
        "calculator A: test_add passes",
    ]
