"""Risk of a change: the policy's tier, plus the rules no tier may relax.

``Policy.risk_tier`` (factory.config.harness) places a change in the first tier whose size and path
rules it meets. On top of that, this module applies what ``harness/policy.yaml`` cannot
express per tier:

- a change touching a protected path goes to the last (highest) tier and never auto-merges;
- a change to a dependency manifest or lock file, or to a database migration, never
  auto-merges (it is moved to the first tier after its own that does not auto-merge);
- a change with no files never auto-merges;
- test-only changes are noted (they do not change the tier).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from factory.config.harness import Policy

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


@dataclass(frozen=True)
class RiskAssessment:
    """The risk of one change and whether it may merge without a human."""

    tier: str
    """Name of the policy tier the change ends up in."""
    auto_merge: bool
    """Whether that tier and the fixed rules allow merging without a human."""
    reasons: tuple[str, ...]
    """Why it may not auto-merge (empty when it may)."""
    changed_files: int
    """Files changed."""
    changed_lines: int
    """Added plus removed lines."""
    protected: tuple[str, ...] = ()
    """Changed paths that are protected."""
    dependencies: tuple[str, ...] = ()
    """Changed dependency manifests and lock files."""
    migrations: tuple[str, ...] = ()
    """Changed migration files."""
    tests_only: bool = False
    """Every changed path is a test."""


def _first_manual_tier_from(policy: Policy, tier: str) -> str:
    names = list(policy.risk_tiers)
    for name in names[names.index(tier) :]:
        if not policy.risk_tiers[name].auto_merge:
            return name
    return names[-1]


def assess_risk(
    changed_lines: Mapping[str, int], policy: Policy, *, also_touched: Iterable[str] = ()
) -> RiskAssessment:
    """Return the risk of a change given as ``{path: added + removed lines}``.

    ``also_touched`` are paths the change affects without counting as changed files (the
    old names of renamed files): they are checked for protection, dependencies and
    migrations. Raises nothing.
    """
    touched = sorted({*changed_lines, *also_touched})
    protected = tuple(p for p in touched if policy.is_protected(p))
    dependencies = tuple(p for p in touched if is_dependency_file(p))
    migrations = tuple(p for p in touched if is_migration(p))
    tests_only = bool(changed_lines) and all(is_test_file(p) for p in touched)
    tier = policy.risk_tier(changed_lines)
    reasons: list[str] = []
    if protected:
        tier = list(policy.risk_tiers)[-1]
        reasons.append(f"touches protected paths: {', '.join(protected)}")
    if dependencies:
        reasons.append(f"changes dependencies: {', '.join(dependencies)}")
    if migrations:
        reasons.append(f"changes database migrations: {', '.join(migrations)}")
    if not changed_lines:
        reasons.append("changes no files")
    if reasons:
        tier = _first_manual_tier_from(policy, tier)
    if not policy.risk_tiers[tier].auto_merge:
        reasons.insert(0, f"risk tier {tier!r} does not allow auto-merge")
    return RiskAssessment(
        tier=tier,
        auto_merge=not reasons,
        reasons=tuple(reasons),
        changed_files=len(changed_lines),
        changed_lines=sum(changed_lines.values()),
        protected=protected,
        dependencies=dependencies,
        migrations=migrations,
        tests_only=tests_only,
    )
