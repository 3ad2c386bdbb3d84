"""Tests that kill mutants `make mutants` found alive in the risk module."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from factory.config.risk import (
    FileChange,
    RiskPlacement,
    RiskRule,
    RiskTier,
    file_changes,
    is_dependency_file,
    is_migration,
    is_test_file,
    place,
)

TIERS = {
    "low": RiskTier(max_changed_lines=10, max_changed_files=2, paths=["docs/**"], auto_merge=True),
    "mid": RiskTier(max_changed_lines=100, auto_merge=True),
    "manual": RiskTier(max_changed_lines=1000),
    "top": RiskTier(auto_merge=True),
}
"""Four tiers; the third is the first that does not auto-merge; the last auto-merges."""


def _place(
    changes: Sequence[FileChange],
    rules: dict[str, RiskRule] | None = None,
    protected: tuple[str, ...] = (),
) -> RiskPlacement:
    return place(TIERS, rules or {}, lambda p: p in protected, changes)


# --- the size and path rules ---------------------------------------------------------------


def test_exactly_the_line_limit_fits_the_tier() -> None:
    """Added plus deleted lines equal to the limit still fit; one more does not."""
    fits = _place([FileChange("docs/a.md", added=6, deleted=4)])
    over = _place([FileChange("docs/a.md", added=6, deleted=5)])
    assert (fits, over) == (RiskPlacement("low", (), False), RiskPlacement("mid", (), False))


def test_exactly_the_file_limit_fits_the_tier() -> None:
    """As many files as the limit fit; one more does not."""
    two = [FileChange("docs/a.md", 1), FileChange("docs/b.md", 1)]
    assert (_place(two).tier, _place([*two, FileChange("docs/c.md", 1)]).tier) == ("low", "mid")


def test_every_touched_path_must_match_the_tier_paths() -> None:
    """One path outside the tier's globs (an old name included) leaves the tier."""
    renamed = FileChange("docs/a.md", 1, status="renamed", previous_path="src/a.md")
    assert (
        _place([FileChange("docs/a.md", 1), FileChange("src/b.py", 1)]).tier,
        _place([renamed]).tier,
    ) == (
        "mid",
        "mid",
    )


def test_a_change_no_tier_fits_is_in_the_last_tier() -> None:
    """When even the last tier's rules do not fit, the change is in the last tier."""
    tiers = {"a": RiskTier(max_changed_lines=1), "b": RiskTier(max_changed_lines=2)}
    placement = place(tiers, {}, lambda p: False, [FileChange("x", 5)])
    assert placement == RiskPlacement("b", (), False)


# --- protected paths, rules and floors -----------------------------------------------------


def test_protected_paths_go_to_the_last_tier_named_sorted() -> None:
    """Protected paths put the change in the last tier, held, naming each path sorted."""
    changes = [FileChange("docs/z.md", 1), FileChange("docs/a.md", 1)]
    placement = _place(changes, protected=("docs/z.md", "docs/a.md"))
    assert placement == RiskPlacement(
        "top", ("touches protected paths: docs/a.md, docs/z.md",), True
    )


def test_a_rule_raises_to_its_tier_naming_the_paths() -> None:
    """A rule whose globs match raises the change to its tier (not held), naming the hits."""
    rules = {"ci": RiskRule(reason="changes CI", paths=["docs/ci/**"], tier="manual")}
    changes = [FileChange("docs/ci/b.md", 1), FileChange("docs/ci/a.md", 1)]
    assert _place(changes, rules) == RiskPlacement(
        "manual", ("changes CI: docs/ci/a.md, docs/ci/b.md",), False
    )


def test_a_rule_never_lowers_the_tier() -> None:
    """A rule naming a lower tier than the size tier leaves the change where it is."""
    rules = {"docs": RiskRule(reason="docs", paths=["src/**"], tier="low")}
    assert _place([FileChange("src/a.py", 50)], rules) == RiskPlacement(
        "mid", ("docs: src/a.py",), False
    )


def test_a_rule_that_matches_nothing_says_nothing() -> None:
    """A rule without hits neither raises the tier nor adds a reason."""
    rules = {"ci": RiskRule(reason="changes CI", paths=[".ci/**"], tier="top")}
    assert _place([FileChange("docs/a.md", 1)], rules) == RiskPlacement("low", (), False)


def test_a_floor_goes_to_the_first_manual_tier_from_its_own() -> None:
    """A floor lifts the change to the first tier at or above its own that does not auto-merge."""
    placement = _place([FileChange("docs/a.md", 1, status="removed")])
    assert placement == RiskPlacement("manual", ("deletes files: docs/a.md",), True)


def test_a_floor_above_every_manual_tier_stays_in_the_last() -> None:
    """Past the last manual tier, a held change is in the last tier."""
    placement = _place([FileChange("src/a.py", 2000, status="removed")])
    assert placement == RiskPlacement("top", ("deletes files: src/a.py",), True)


def test_no_files_is_a_floor() -> None:
    """An empty change is held and says it changes no files."""
    assert _place([]) == RiskPlacement("manual", ("changes no files",), True)


def test_floors_name_each_kind_with_their_paths_sorted() -> None:
    """Dependencies, migrations, deleted tests and files are each one reason, paths sorted."""
    changes = [
        FileChange("src/uv.lock", 1),
        FileChange("src/go.mod", 1),
        FileChange("db/migrations/2.py", 1),
        FileChange("tests/test_b.py", status="removed"),
        FileChange("tests/test_a.py", status="removed"),
        FileChange("src/old.py", status="removed"),
    ]
    assert _place(changes).reasons == (
        "changes dependencies: src/go.mod, src/uv.lock",
        "changes database migrations: db/migrations/2.py",
        "deletes tests: tests/test_a.py, tests/test_b.py",
        "deletes files: src/old.py",
    )


def test_a_path_removed_and_added_again_is_not_deleted() -> None:
    """A removal of a path the change also adds is no deletion."""
    changes = [
        FileChange("docs/a.md", status="removed"),
        FileChange("docs/a.md", 1, status="added"),
    ]
    assert _place(changes) == RiskPlacement("low", (), False)


def test_a_test_renamed_out_of_the_tests_is_deleted() -> None:
    """A test renamed to a path that is no test no longer runs: that deletes it."""
    change = FileChange("docs/a.md", status="renamed", previous_path="tests/test_a.py")
    assert _place([change]).reasons == ("deletes tests: tests/test_a.py",)


def test_a_test_renamed_within_the_tests_is_not_deleted() -> None:
    """A test renamed to another test path still runs."""
    change = FileChange("tests/test_b.py", status="renamed", previous_path="tests/test_a.py")
    assert _place([change]).reasons == ()


@pytest.mark.parametrize(
    ("change", "mostly"),
    [
        (FileChange("docs/a.md", added=9, deleted=10), True),
        (FileChange("docs/a.md", added=10, deleted=10), False),
        (FileChange("docs/a.md", added=0, deleted=9), False),
        (
            FileChange(
                "docs/a.md", added=0, deleted=10, status="renamed", previous_path="docs/b.md"
            ),
            True,
        ),
        (FileChange("docs/a.md", added=0, deleted=10, status="added"), False),
    ],
    ids=["ten-over-nine", "even", "nine", "renamed", "added"],
)
def test_mostly_deleted_needs_ten_removed_lines_more_than_added(
    change: FileChange, mostly: bool
) -> None:
    """A modification or rename removing 10+ lines, more than it adds, deletes most of a file."""
    reasons = tuple(r for r in _place([change]).reasons if r.startswith("deletes most of"))
    assert reasons == (("deletes most of: docs/a.md",) if mostly else ())


# --- FileChange ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "touched", "gone"),
    [
        (FileChange("a"), ("a",), None),
        (FileChange("a", status="removed"), ("a",), "a"),
        (FileChange("b", status="renamed", previous_path="a"), ("a", "b"), "a"),
        (FileChange("a", status="renamed", previous_path="a"), ("a",), None),
        (FileChange("b", status="modified", previous_path="a"), ("a", "b"), None),
    ],
    ids=["modified", "removed", "renamed", "renamed-to-itself", "modified-with-old-name"],
)
def test_touched_and_gone_paths(
    change: FileChange, touched: tuple[str, ...], gone: str | None
) -> None:
    """A change touches its path and an old name; it makes a removed or renamed-away path gone."""
    assert (change.touched, change.gone) == (touched, gone)


def test_file_changes_counts_a_mapping_as_added_lines() -> None:
    """``{path: lines}`` becomes modified files with those lines added."""
    assert file_changes({"a": 3}) == [FileChange("a", added=3)]


def test_file_changes_keeps_file_changes() -> None:
    """A list of FileChange comes back as it is."""
    changes = (FileChange("a", 1, 2, "removed"),)
    assert file_changes(changes) == list(changes)


# --- what kind of file ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Cargo.TOML", True),
        ("a/b/Gemfile.lock", True),
        ("requirements.in", True),
        ("sub/requirements-dev.txt", True),
        ("requirements/base.in", True),
        ("Requirements.TXT", True),
        ("app/App.csproj", True),
        ("requirements/sub/base.txt", False),
        ("requirements.txt.bak", False),
        ("docs/cargo.toml.md", False),
    ],
)
def test_dependency_files(path: str, expected: bool) -> None:
    """Manifests and lock files by base name (any case), requirements files and .csproj."""
    assert is_dependency_file(path) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("migrations/0001.py", True),
        ("app/Migrations/0001.py", True),
        ("app/migrations", True),
        ("db/alembic/env.py", True),
        ("alembic.ini", True),
        ("sub/alembic.ini", True),
        ("mymigrations/0001.py", False),
        ("docs/alembic.ini.md", False),
    ],
)
def test_migrations(path: str, expected: bool) -> None:
    """Migrations are whole directories named migrations or alembic, and alembic.ini."""
    assert is_migration(path) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("test/a.py", True),
        ("__tests__/a.js", True),
        ("spec/a_spec.rb", True),
        ("pkg/test_a", True),
        ("pkg/a_test.go", True),
        ("web/a.test.ts", True),
        ("conftest.py", True),
        ("sub/conftest.py", True),
        ("latest/a.py", False),
        ("pkg/contest.py", False),
        ("pkg/a_test", False),
    ],
)
def test_test_files(path: str, expected: bool) -> None:
    """Test directories, test_* and *_test.* names, *.test.* / *.spec.* and conftest.py."""
    assert is_test_file(path) is expected


def test_a_change_no_tier_of_three_fits_is_in_the_last_not_the_second() -> None:
    """With three tiers and none fitting, the change is in the third (the last) tier."""
    tiers = {
        "a": RiskTier(max_changed_lines=1),
        "b": RiskTier(max_changed_lines=2),
        "c": RiskTier(max_changed_lines=3),
    }
    placement = place(tiers, {}, lambda p: False, [FileChange("x", 5)])
    assert placement == RiskPlacement("c", (), False)


def test_a_floor_with_no_manual_tier_goes_to_the_last_tier() -> None:
    """When every tier auto-merges, a held change from the first tier lands in the last."""
    tiers = {
        "a": RiskTier(auto_merge=True),
        "b": RiskTier(auto_merge=True),
        "c": RiskTier(auto_merge=True),
    }
    placement = place(tiers, {}, lambda p: False, [FileChange("x", 1, status="removed")])
    assert placement == RiskPlacement("c", ("deletes files: x",), True)


# Equivalent mutants (no test can kill them):
# - x_is_dependency_file__mutmut_6 / _9: `path.rsplit("/", 1)[-1]` with the maxsplit left out
#   or 2: the last element is the last path segment however many splits are made.
