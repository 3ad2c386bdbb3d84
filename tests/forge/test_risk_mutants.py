"""Tests that kill mutants `make mutants` found alive in factory/forge/risk.py."""

from __future__ import annotations

from github.File import File

from factory.config.risk import FileChange
from factory.forge.patch_policy import ChangedFile
from factory.forge.patches import PushedBranch
from factory.forge.risk import (
    RiskAssessment,
    assess_risk,
    branch_changes,
    github_changes,
    risk_section,
)

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


def test_assessment_of_a_held_change_lists_every_field() -> None:
    """A change with a protected path, a lock file and a migration: every field of the result."""
    changes = [
        FileChange(".github/workflows/ci.yml", 2, 1),
        FileChange("src/uv.lock", 3),
        FileChange("db/migrations/1.py", 4),
    ]
    assert assess_risk(changes, make_policy()) == RiskAssessment(
        tier="high",
        auto_merge=False,
        reasons=(
            "risk tier 'high' does not allow auto-merge",
            "touches protected paths: .github/workflows/ci.yml",
            "changes dependencies: src/uv.lock",
            "changes database migrations: db/migrations/1.py",
        ),
        changed_files=3,
        changed_lines=10,
        protected=(".github/workflows/ci.yml",),
        dependencies=("src/uv.lock",),
        migrations=("db/migrations/1.py",),
        tests_only=False,
        needs_human=False,
        labels=(),
    )


def test_old_names_count_for_paths_not_for_sizes() -> None:
    """``also_touched`` paths are matched (here protected) but are no changed files or lines."""
    risk = assess_risk({"docs/a.md": 3}, make_policy(), also_touched=["harness/a.md"])
    assert (risk.changed_files, risk.changed_lines, risk.protected) == (1, 3, ("harness/a.md",))


def test_held_change_in_an_auto_merge_tier_keeps_its_reasons() -> None:
    """A floor in a tier that would auto-merge: no auto-merge, the floor is the reason."""
    policy = make_policy(
        risk_tiers={
            "low": {"max_changed_lines": 5, "auto_merge": True},
            "top": {"auto_merge": True},
        }
    )
    risk = assess_risk([FileChange("docs/a.md", status="removed")], policy)
    assert (risk.tier, risk.auto_merge, risk.reasons) == (
        "top",
        False,
        ("deletes files: docs/a.md",),
    )


def test_auto_mergeable_change_has_no_reasons() -> None:
    """A change that may auto-merge carries no reasons, even when a rule named it."""
    policy = make_policy(
        risk_rules={"d": {"reason": "touches docs", "paths": ["docs/**"], "tier": "low"}}
    )
    risk = assess_risk({"docs/a.md": 1}, policy)
    assert (risk.auto_merge, risk.reasons) == (True, ())


def test_no_files_is_not_tests_only() -> None:
    """An empty change is not "only tests"."""
    assert assess_risk({}, make_policy()).tests_only is False


def test_a_test_beside_a_source_file_is_not_tests_only() -> None:
    """One non-test path makes the change not tests-only."""
    assert assess_risk({"tests/test_a.py": 1, "src/a.py": 1}, make_policy()).tests_only is False


def test_tier_label_comes_without_needs_human_when_not_asked() -> None:
    """A tier with a label but no needs_human gives only its label."""
    policy = make_policy(
        risk_tiers={"low": {"label": "risk:low", "auto_merge": True}},
    )
    risk = assess_risk({"docs/a.md": 1}, policy)
    assert (risk.needs_human, risk.labels) == (False, ("risk:low",))


def test_needs_human_without_a_tier_label_gives_only_needs_human() -> None:
    """A tier that asks for a human but has no label gives the needs-human label alone."""
    policy = make_policy(risk_tiers={"low": {"needs_human": True}})
    assert assess_risk({"docs/a.md": 1}, policy).labels == ("needs-human",)


def _file(**attributes: object) -> File:
    """A PyGithub File built from the JSON GitHub sends for one file of a pull request."""
    data = {"filename": "a", "additions": 1, "deletions": 2, "status": "modified", **attributes}
    return File(requester=None, headers={}, attributes=data)  # type: ignore[arg-type]


def test_github_files_become_file_changes() -> None:
    """GitHub's statuses map to ours (copied counts as added, changed as modified), names kept."""
    files = [
        _file(filename="n", status="added"),
        _file(filename="c", status="copied"),
        _file(filename="r", status="removed"),
        _file(filename="m", status="renamed", previous_filename="o"),
        _file(filename="x", status="changed"),
        _file(filename="e", previous_filename=""),
    ]
    assert github_changes(files) == [
        FileChange("n", 1, 2, "added"),
        FileChange("c", 1, 2, "added"),
        FileChange("r", 1, 2, "removed"),
        FileChange("m", 1, 2, "renamed", "o"),
        FileChange("x", 1, 2, "modified"),
        FileChange("e", 1, 2, "modified", None),
    ]


def test_risk_section_of_a_held_change_lists_its_reasons() -> None:
    """A change that needs a human says so and lists each reason as a bullet."""
    risk = assess_risk({"src/a.py": 1, "src/go.mod": 1}, make_policy())
    assert risk_section(risk) == (
        "**Risk tier: medium** (needs a human merge)\n"
        "- risk tier 'medium' does not allow auto-merge\n"
        "- changes dependencies: src/go.mod"
    )


# Equivalent mutants (no test can kill them):
# - x_assess_risk__mutmut_5, _8, _10, _11 (the `status="renamed"` of an `also_touched` entry
#   made None, left out ("modified") or misspelt) and _6, _9 (its `previous_path=p` made None
#   or left out): the entry's previous path is its own path, so `touched` is `(p,)` and
#   `gone` is None with or without them, and it has no lines, so it is never "mostly
#   deleted"; it is not "removed" in any of them. Every rule sees the same entry.
