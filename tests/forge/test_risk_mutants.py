"""Tests that kill mutants `make mutants` found alive in factory/forge/risk.py."""

from __future__ import annotations

from factory.config.risk import FileChange
from factory.forge.patch_policy import ChangedFile
from factory.forge.patches import PushedBranch
from factory.forge.risk import assess_risk, branch_changes, risk_section

from .patch_helpers import make_policy


def _staged(path: str, status: str) -> ChangedFile:
    return ChangedFile(path, status, "100644", "100644", 3, 1, False)


def test_branch_changes_map_git_status_letters() -> None:
    """A, D and R become added, removed, renamed; M, T and anything else become modified."""
    files = tuple(_staged(p, s) for p, s in [("a", "A"), ("d", "D"), ("r", "R"), ("m", "M")])
    changes = branch_changes(PushedBranch("b", "s", "base", (*files, _staged("t", "T"))))
    assert changes == [
        FileChange("a", 3, 1, "added"),
        FileChange("d", 3, 1, "removed"),
        FileChange("r", 3, 1, "renamed"),
        FileChange("m", 3, 1, "modified"),
        FileChange("t", 3, 1, "modified"),
    ]


def test_risk_section_of_an_auto_mergeable_change_says_so() -> None:
    """A change that may auto-merge says so in its PR body paragraph, with no reasons."""
    risk = assess_risk({"docs/guide.md": 10}, make_policy())
    assert risk_section(risk) == "**Risk tier: low** (may auto-merge when green and approved)"
