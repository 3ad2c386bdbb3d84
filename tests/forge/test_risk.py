"""assess_risk: the policy's tier plus the rules no tier relaxes."""

from __future__ import annotations

import pytest

from factory.forge.risk import assess_risk, is_dependency_file, is_migration, is_test_file

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
