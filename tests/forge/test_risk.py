"""assess_risk: the policy's tier plus the rules no tier relaxes."""

from __future__ import annotations

import pytest

from factory.config.risk import FileChange
from factory.forge.risk import (
    assess_risk,
    is_dependency_file,
    is_migration,
    is_test_file,
    risk_section,
)

from .patch_helpers import make_policy


@pytest.mark.parametrize(
    ("changed", "tier", "auto_merge"),
    [
        ({"docs/guide.md": 10}, "low", True),
        ({"tests/test_x.py": 5, "README.md": 1}, "low", True),
        ({"src/app.py": 10}, "medium", False),
        ({"docs/guide.md": 500}, "medium", False),
        ({f"docs/{i}.md": 1 for i in range(9)}, "medium", False),
        ({"src/app.py": 900}, "high", False),
    ],
    ids=["docs", "tests-and-md", "source", "docs-too-long", "too-many-files", "huge"],
)
def test_tier_follows_policy(changed: dict[str, int], tier: str, auto_merge: bool) -> None:
    """Without special paths the tier is the policy's first fitting tier."""
    risk = assess_risk(changed, make_policy())
    assert (risk.tier, risk.auto_merge) == (tier, auto_merge)


def test_protected_path_is_highest_tier() -> None:
    """A change touching a protected path goes to the last tier and says why."""
    risk = assess_risk({".github/workflows/ci.yml": 1}, make_policy())
    assert (risk.tier, risk.auto_merge, risk.reasons) == (
        "high",
        False,
        (
            "risk tier 'high' does not allow auto-merge",
            "touches protected paths: .github/workflows/ci.yml",
        ),
    )


def test_renamed_away_protected_path_counts() -> None:
    """The old name of a renamed file is checked for protection too."""
    risk = assess_risk({"docs/ci.yml": 0}, make_policy(), also_touched=[".github/workflows/ci.yml"])
    assert risk.protected == (".github/workflows/ci.yml",)


@pytest.mark.parametrize(
    "path",
    ["docs/requirements.txt", "docs/package.json", "docs/migrations/0001.md", "docs/go.mod"],
)
def test_dependency_or_migration_never_auto_merges(path: str) -> None:
    """A small docs-only change that touches a manifest or a migration needs a human."""
    risk = assess_risk({path: 1}, make_policy())
    assert (risk.tier, risk.auto_merge) == ("medium", False)


def test_no_files_never_auto_merges() -> None:
    """A change with no files is not auto-merged."""
    assert assess_risk({}, make_policy()).reasons[-1] == "changes no files"


def test_tests_only_change_is_noted() -> None:
    """A change made only of tests is marked tests_only."""
    assert assess_risk({"tests/test_a.py": 3, "src/b_test.go": 1}, make_policy()).tests_only


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("pyproject.toml", True),
        ("sub/Cargo.toml", True),
        ("requirements-dev.txt", True),
        ("requirements/base.txt", True),
        ("docs/requirements.md", False),
        ("src/app.py", False),
    ],
)
def test_is_dependency_file(path: str, expected: bool) -> None:
    """Dependency manifests and lock files are recognised by name."""
    assert is_dependency_file(path) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [("app/migrations/0002_x.py", True), ("alembic/versions/a.py", True), ("src/m.py", False)],
)
def test_is_migration(path: str, expected: bool) -> None:
    """Migration paths are recognised by their folder."""
    assert is_migration(path) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [("tests/a.py", True), ("pkg/test_a.py", True), ("web/a.spec.ts", True), ("src/a.py", False)],
)
def test_is_test_file(path: str, expected: bool) -> None:
    """Test files are recognised by folder or name."""
    assert is_test_file(path) is expected


# -- old and new paths, removals, content ------------------------------------------------


@pytest.mark.parametrize(
    ("change", "tier"),
    [
        (FileChange("docs/auth.py", 0, 0, "renamed", "src/auth.py"), "medium"),
        (FileChange("tests/app.py", 0, 0, "renamed", "src/app.py"), "medium"),
        (FileChange("docs/ci.yml", 0, 0, "renamed", ".github/workflows/ci.yml"), "high"),
        (FileChange("README.md", 0, 0, "renamed", "harness/policy.yaml"), "high"),
    ],
    ids=["source-to-docs", "source-to-tests", "protected-to-docs", "protected-to-md"],
)
def test_rename_into_low_paths_keeps_the_old_paths_risk(change: FileChange, tier: str) -> None:
    """A file renamed out of a riskier path into a low path is judged by its old path too."""
    risk = assess_risk([change], make_policy())
    assert (risk.tier, risk.auto_merge) == (tier, False)


def test_rename_given_as_old_name_is_not_low() -> None:
    """The mapping form with the old name in also_touched is not low either."""
    risk = assess_risk({"docs/auth.py": 0}, make_policy(), also_touched=["src/auth.py"])
    assert (risk.tier, risk.auto_merge) == ("medium", False)


@pytest.mark.parametrize(
    "change",
    [
        FileChange("tests/test_a.py", 0, 30, "removed"),
        FileChange("tests/conftest.py", 0, 2, "removed"),
        FileChange("docs/a.md", 0, 0, "renamed", "tests/test_a.py"),
    ],
    ids=["removed-test", "removed-conftest", "test-renamed-out-of-tests"],
)
def test_deleting_tests_is_never_low(change: FileChange) -> None:
    """Removing a test (or moving it where it no longer runs) is not low, though tests/ is."""
    risk = assess_risk([change], make_policy())
    assert (risk.tier, risk.auto_merge, risk.reasons[-1]) == (
        "medium",
        False,
        "deletes tests: tests/" + change.touched[0].removeprefix("tests/"),
    )


def test_renaming_a_test_within_tests_is_low() -> None:
    """A test renamed inside tests/ is not a deletion."""
    change = FileChange("tests/test_b.py", 0, 0, "renamed", "tests/test_a.py")
    assert assess_risk([change], make_policy()).auto_merge is True


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (FileChange("docs/guide.md", 1, 40), "deletes most of: docs/guide.md"),
        (FileChange("tests/test_a.py", 0, 12), "deletes most of: tests/test_a.py"),
        (FileChange("docs/old.md", 0, 3, "removed"), "deletes files: docs/old.md"),
    ],
    ids=["gutted-doc", "gutted-test", "removed-doc"],
)
def test_deleting_most_of_a_file_is_never_low(change: FileChange, reason: str) -> None:
    """A small change that removes most of a file (or all of it) does not auto-merge."""
    risk = assess_risk([change], make_policy())
    assert (risk.tier, risk.auto_merge, risk.reasons) == (
        "medium",
        False,
        ("risk tier 'medium' does not allow auto-merge", reason),
    )


def test_small_edit_that_removes_a_few_lines_stays_low() -> None:
    """Removing a few lines of a document is an ordinary low-risk edit."""
    assert assess_risk([FileChange("docs/guide.md", 2, 5)], make_policy()).tier == "low"


def test_size_counts_added_and_deleted_lines() -> None:
    """Lines removed count towards a tier's size limit like lines added."""
    risk = assess_risk([FileChange("docs/guide.md", 150, 60)], make_policy())
    assert (risk.tier, risk.changed_lines) == ("medium", 210)


def test_risk_rule_raises_the_tier_and_names_the_paths() -> None:
    """A policy risk rule matching an old name puts the change in its tier, with the reason."""
    rules = {"ci": {"reason": "changes CI configuration", "paths": [".ci/**"], "tier": "high"}}
    change = FileChange("docs/run.md", 0, 0, "renamed", ".ci/run")
    risk = assess_risk([change], make_policy(risk_rules=rules))
    assert (risk.tier, risk.reasons) == (
        "high",
        ("risk tier 'high' does not allow auto-merge", "changes CI configuration: .ci/run"),
    )


def test_needs_human_tier_gives_its_labels() -> None:
    """A change in a needs_human tier carries the tier label and the needs-human label."""
    tiers = {"low": {"paths": ["docs/**"], "auto_merge": True}, "high": {"needs_human": True}}
    tiers["high"]["label"] = "risk:high"
    risk = assess_risk({"src/a.py": 1}, make_policy(risk_tiers=tiers))
    assert (risk.needs_human, risk.labels) == (True, ("risk:high", "needs-human"))


def test_risk_section_names_tier_and_reasons() -> None:
    """The PR body paragraph states the tier, that a human must merge, and every reason."""
    risk = assess_risk({"src/go.mod": 1}, make_policy())
    assert risk_section(risk) == (
        "**Risk tier: medium** (needs a human merge)\n"
        "- risk tier 'medium' does not allow auto-merge\n"
        "- changes dependencies: src/go.mod"
    )
