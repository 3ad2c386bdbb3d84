"""How risky a change is: the schema and the one rule behind ``Policy.risk_tier``.

A change is a list of ``FileChange`` (both names of a rename, removals, line counts). Its tier
is the highest of:

- the first tier whose size and path rules it meets; a tier's ``paths`` must match *every*
  path the change touches — old names of renamed files and removed files included, so
  ``src/auth.py → docs/auth.py`` is not a docs change;
- the ``tier`` of every ``risk_rules`` entry one of whose globs matches a touched path;
- fixed floors no policy relaxes: a protected path puts the change in the last tier; a
  dependency manifest or lock file, a migration, a removed test, a removed file, a file
  mostly deleted, or no file at all put it at least in the first tier (from its own) that does
  not auto-merge, and such a change never auto-merges.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from factory.config.globs import Globs, matches_any

ChangeStatus = Literal["added", "modified", "removed", "renamed"]
"""What happened to a file (GitHub's words; ``copied``/``changed`` count as added/modified)."""

MOSTLY_DELETED_MIN_LINES = 10
"""A modification that removes at least this many lines, and more than it adds, counts as
deleting most of the file (the size before is not known from GitHub's file list)."""

DEPENDENCY_FILES = frozenset(
    {
        "package.json",
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "pyproject.toml",
        "poetry.lock",
        "pipfile",
        "pipfile.lock",
        "setup.py",
        "setup.cfg",
        "uv.lock",
        "pdm.lock",
        "cargo.toml",
        "cargo.lock",
        "go.mod",
        "go.sum",
        "gemfile",
        "gemfile.lock",
        "composer.json",
        "composer.lock",
        "pom.xml",
        "build.gradle",
        "build.gradle.kts",
        "gradle.lockfile",
        "mix.exs",
        "mix.lock",
        "packages.config",
        "directory.packages.props",
        "pubspec.yaml",
        "pubspec.lock",
        "podfile",
        "podfile.lock",
        "flake.lock",
    }
)
"""Base names (lower case) of dependency manifests and lock files."""

_DEPENDENCY_RE = re.compile(
    r"^(?:.*/)?(?:requirements[^/]*\.(?:txt|in)|requirements/[^/]+\.(?:txt|in)|[^/]*\.csproj)$",
    re.I,
)
_MIGRATION_RE = re.compile(r"(?:^|/)(?:migrations|alembic)(?:/|$)|(?:^|/)alembic\.ini$", re.I)
_TEST_RE = re.compile(
    r"(?:^|/)(?:tests?|__tests__|spec)/|(?:^|/)(?:test_[^/]*|[^/]*_test\.[^/]+|"
    r"[^/]*\.(?:test|spec)\.[^/]+|conftest\.py)$"
)


def is_dependency_file(path: str) -> bool:
    """Return whether ``path`` is a dependency manifest or lock file."""
    name = path.rsplit("/", 1)[-1].lower()
    return name in DEPENDENCY_FILES or bool(_DEPENDENCY_RE.match(path))


def is_migration(path: str) -> bool:
    """Return whether ``path`` is part of database migrations (``migrations/``, alembic)."""
    return bool(_MIGRATION_RE.search(path))


def is_test_file(path: str) -> bool:
    """Return whether ``path`` looks like a test (under tests/, test_*.py, *_test.go, …)."""
    return bool(_TEST_RE.search(path))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RiskTier(_Model):
    """Rules a change must meet to be in this tier; tiers are tried in file order."""

    max_changed_lines: int | None = Field(default=None, ge=0)
    """Most added + removed lines (None: no limit)."""
    max_changed_files: int | None = Field(default=None, ge=0)
    """Most changed files (None: no limit)."""
    paths: Globs = Field(default_factory=list)
    """If given, every path the change touches (old and new names) must match one of these."""
    auto_merge: bool = False
    """Whether a change in this tier may merge without a human (checks green, approved)."""
    needs_human: bool = False
    """Whether a pull request in this tier gets the ``needs_human`` label when it is opened."""
    label: str | None = None
    """A label put on a pull request in this tier when it is opened (None: none)."""


class RiskRule(_Model):
    """A kind of change that puts a change in at least ``tier``, whatever its size."""

    reason: str = Field(min_length=1)
    """What the change does, shown with the matching paths (e.g. "changes CI configuration")."""
    paths: Globs = Field(min_length=1)
    """Globs matched against every path the change touches: old and new names, removals."""
    tier: str
    """The tier such a change is at least in (a name from ``risk_tiers``)."""


@dataclass(frozen=True)
class FileChange:
    """One file of a change, as the risk tiers see it."""

    path: str
    """The file's path after the change (the removed path for a removal)."""
    added: int = 0
    """Lines added."""
    deleted: int = 0
    """Lines removed."""
    status: ChangeStatus = "modified"
    """What happened to the file."""
    previous_path: str | None = None
    """The old name of a renamed file."""

    @property
    def touched(self) -> tuple[str, ...]:
        """Every path this change affects: the new name and, for a rename, the old one."""
        if self.previous_path and self.previous_path != self.path:
            return (self.previous_path, self.path)
        return (self.path,)

    @property
    def gone(self) -> str | None:
        """The path that no longer exists after the change (removed or renamed away)."""
        if self.status == "removed":
            return self.path
        if self.status == "renamed" and self.previous_path and self.previous_path != self.path:
            return self.previous_path
        return None


def file_changes(changes: Mapping[str, int] | Iterable[FileChange]) -> list[FileChange]:
    """Return ``changes`` as FileChange; ``{path: lines}`` counts lines as added to a file."""
    if isinstance(changes, Mapping):
        return [FileChange(path, added=lines) for path, lines in changes.items()]
    return list(changes)


@dataclass(frozen=True)
class RiskPlacement:
    """The tier a change is in and why it is not lower."""

    tier: str
    """Name of the tier."""
    reasons: tuple[str, ...]
    """What raised it above its size tier (empty when nothing did)."""
    held: bool
    """A fixed floor applied: the change never auto-merges, whatever the tier says."""


def _size_tier(tiers: Mapping[str, RiskTier], changes: Sequence[FileChange]) -> str:
    total = sum(c.added + c.deleted for c in changes)
    touched = [p for c in changes for p in c.touched]
    for name, tier in tiers.items():
        if tier.max_changed_lines is not None and total > tier.max_changed_lines:
            continue
        if tier.max_changed_files is not None and len(changes) > tier.max_changed_files:
            continue
        if tier.paths and not all(matches_any(p, tier.paths) for p in touched):
            continue
        return name
    return list(tiers)[-1]


def _mostly_deleted(change: FileChange) -> bool:
    return change.status in ("modified", "renamed") and (
        change.deleted >= MOSTLY_DELETED_MIN_LINES and change.deleted > change.added
    )


def _floors(changes: Sequence[FileChange]) -> list[str]:
    touched = sorted({p for c in changes for p in c.touched})
    after = {c.path for c in changes if c.status != "removed"}
    removed = sorted({c.path for c in changes if c.status == "removed"} - after)
    # A test renamed to a path that is no test no longer runs: that deletes it too.
    moved = {c.gone for c in changes if c.status == "renamed" and not is_test_file(c.path)}
    tests_gone = sorted({p for p in [*removed, *moved] if p is not None and is_test_file(p)})
    found = [
        ("changes dependencies", [p for p in touched if is_dependency_file(p)]),
        ("changes database migrations", [p for p in touched if is_migration(p)]),
        ("deletes tests", tests_gone),
        ("deletes files", [p for p in removed if not is_test_file(p)]),
        ("deletes most of", sorted(c.path for c in changes if _mostly_deleted(c))),
    ]
    reasons = [f"{what}: {', '.join(paths)}" for what, paths in found if paths]
    if not changes:
        reasons.append("changes no files")
    return reasons


def place(
    tiers: Mapping[str, RiskTier],
    rules: Mapping[str, RiskRule],
    is_protected: Callable[[str], bool],
    changes: Sequence[FileChange],
) -> RiskPlacement:
    """Return the tier of ``changes`` under ``tiers``, ``rules`` and protection (see above)."""
    names = list(tiers)
    touched = sorted({p for c in changes for p in c.touched})
    tier = _size_tier(tiers, changes)
    reasons: list[str] = []

    def raise_to(name: str) -> None:
        nonlocal tier
        tier = names[max(names.index(tier), names.index(name))]

    protected = [p for p in touched if is_protected(p)]
    if protected:
        raise_to(names[-1])
        reasons.append(f"touches protected paths: {', '.join(protected)}")
    for rule in rules.values():
        hits = [p for p in touched if matches_any(p, rule.paths)]
        if hits:
            raise_to(rule.tier)
            reasons.append(f"{rule.reason}: {', '.join(hits)}")
    floors = _floors(changes)
    held = bool(protected or floors)
    if held:
        manual = [n for n in names[names.index(tier) :] if not tiers[n].auto_merge]
        raise_to(manual[0] if manual else names[-1])
    return RiskPlacement(tier, (*reasons, *floors), held)
