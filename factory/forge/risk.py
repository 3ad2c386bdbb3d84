"""Risk of a change: the policy's tier, whether it may auto-merge, and how to say so.

``Policy.risk`` (factory.config.harness, rules in factory.config.risk) is the one place that
decides a tier: the policy's size and path rules over old and new paths, its ``risk_rules``,
and the fixed floors no policy relaxes (protected paths, dependency manifests and lock files,
migrations, removed tests and files, files mostly deleted, empty changes). This module turns
that placement into a ``RiskAssessment`` and builds the change from where it comes from: the
branch the factory pushed (``PushedBranch``) or GitHub's list of a pull request's files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from github.File import File

from factory.config.harness import Policy
from factory.config.risk import (
    ChangeStatus,
    FileChange,
    file_changes,
    is_dependency_file,
    is_migration,
    is_test_file,
)
from factory.forge.patches import PushedBranch

__all__ = [
    "RiskAssessment",
    "assess_risk",
    "branch_changes",
    "github_changes",
    "is_dependency_file",
    "is_migration",
    "is_test_file",
    "risk_section",
]

_GIT_STATUS: dict[str, ChangeStatus] = {"A": "added", "D": "removed", "R": "renamed"}
_GITHUB_STATUS: dict[str, ChangeStatus] = {
    "added": "added",
    "copied": "added",
    "removed": "removed",
    "renamed": "renamed",
}


@dataclass(frozen=True)
class RiskAssessment:
    """The risk of one change and whether it may merge without a human."""

    tier: str
    """Name of the policy tier the change ends up in."""
    auto_merge: bool
    """Whether that tier and the fixed rules allow merging without a human."""
    reasons: tuple[str, ...]
    """Why the change is in its tier and may not auto-merge (empty when it may)."""
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
    needs_human: bool = False
    """The tier asks for a human as soon as the pull request is opened."""
    labels: tuple[str, ...] = ()
    """Labels its pull request gets when opened: the tier's label, then needs-human."""


def assess_risk(
    changes: Mapping[str, int] | Iterable[FileChange],
    policy: Policy,
    *,
    also_touched: Iterable[str] = (),
) -> RiskAssessment:
    """Return the risk of a change: FileChange records, or ``{path: added + removed lines}``.

    ``also_touched`` are further paths the change affects without counting as changed files
    (old names of renamed files, for callers that have only the mapping). Raises nothing.
    """
    counted = file_changes(changes)
    # An old name alone is a path the change touches: it counts for paths, not for sizes.
    extra = [FileChange(p, status="renamed", previous_path=p) for p in also_touched]
    placement = policy.risk([*counted, *extra])
    touched = sorted({p for f in [*counted, *extra] for p in f.touched})
    tier = policy.risk_tiers[placement.tier]
    auto_merge = tier.auto_merge and not placement.held
    reasons = [] if auto_merge else list(placement.reasons)
    if not tier.auto_merge:
        reasons.insert(0, f"risk tier {placement.tier!r} does not allow auto-merge")
    return RiskAssessment(
        tier=placement.tier,
        auto_merge=auto_merge,
        reasons=tuple(reasons),
        changed_files=len(counted),
        changed_lines=sum(f.added + f.deleted for f in counted),
        protected=tuple(p for p in touched if policy.is_protected(p)),
        dependencies=tuple(p for p in touched if is_dependency_file(p)),
        migrations=tuple(p for p in touched if is_migration(p)),
        tests_only=bool(counted) and all(is_test_file(p) for p in touched),
        needs_human=tier.needs_human,
        labels=(
            *((tier.label,) if tier.label else ()),
            *((policy.labels.needs_human,) if tier.needs_human else ()),
        ),
    )


def branch_changes(pushed: PushedBranch) -> list[FileChange]:
    """Return what ``pushed`` changes as FileChange (git stages renames as remove + add)."""
    return [
        FileChange(f.path, f.added, f.deleted, _GIT_STATUS.get(f.status, "modified"))
        for f in pushed.files
    ]


def github_changes(files: Iterable[File]) -> list[FileChange]:
    """Return a pull request's files as GitHub lists them (``pr.get_files()``) as FileChange."""
    return [
        FileChange(
            f.filename,
            f.additions,
            f.deletions,
            _GITHUB_STATUS.get(f.status, "modified"),
            f.previous_filename or None,
        )
        for f in files
    ]


def risk_section(risk: RiskAssessment) -> str:
    """Return the Markdown paragraph a pull request body carries about its risk."""
    merge = "may auto-merge when green and approved" if risk.auto_merge else "needs a human merge"
    lines = [f"**Risk tier: {risk.tier}** ({merge})"]
    lines += [f"- {reason}" for reason in risk.reasons]
    return "\n".join(lines)
