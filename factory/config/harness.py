"""The harness: shared context documents and ``policy.yaml``, loaded strictly like automations.

``Policy`` is the single source of trust roles, protected paths, risk tiers, factory label
names and model prices. Everything is validated at load; issues carry file:line:col.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from factory.config.egress_policy import EgressPolicy
from factory.config.globs import Globs, matches_any
from factory.config.globs import glob_regex as glob_regex
from factory.config.planner_policy import PlannerPolicy
from factory.config.review_policy import ReviewPolicy, TestsPolicy, review_tier_problem
from factory.config.risk import FileChange, RiskPlacement, RiskRule, file_changes, place
from factory.config.risk import RiskTier as RiskTier
from factory.config.sandbox_policy import SandboxPolicy
from factory.config.sentry_policy import SentryPolicy
from factory.config.slack_policy import SlackPolicy
from factory.config.verifier_policy import VerifierPolicy
from factory.config.yamlpos import load_yaml, validate_model
from factory.errors import ConfigError, ConfigIssue, ModelNotPriced
from factory.events import TRUST_ORDER, Trust
from factory.interfaces import Usage

POLICY_FILE = "policy.yaml"

AuthorAssociation = Literal[
    "OWNER",
    "MEMBER",
    "COLLABORATOR",
    "CONTRIBUTOR",
    "FIRST_TIME_CONTRIBUTOR",
    "FIRST_TIMER",
    "MANNEQUIN",
    "NONE",
]
Permission = Literal["admin", "maintain", "write", "triage", "read", "none"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _default_associations() -> dict[AuthorAssociation, Trust]:
    return {"OWNER": "maintainers", "MEMBER": "maintainers", "COLLABORATOR": "collaborators"}


def _default_permissions() -> dict[Permission, Trust]:
    return {"admin": "maintainers", "maintain": "maintainers", "write": "collaborators"}


class TrustPolicy(_Model):
    """How GitHub roles map to trust levels: the one trust mapping of the factory."""

    associations: dict[AuthorAssociation, Trust] = Field(default_factory=_default_associations)
    """GitHub ``author_association`` → trust."""
    permissions: dict[Permission, Trust] = Field(default_factory=_default_permissions)
    """Repository permission of the actor → trust."""
    default: Trust = "anyone"
    """Trust of anyone not matched above."""

    @model_validator(mode="after")
    def _people_are_never_data(self) -> TrustPolicy:
        levels = [*self.associations.values(), *self.permissions.values(), self.default]
        if "data" in levels:
            raise ValueError("a GitHub role cannot map to 'data' (that trust is Sentry's)")
        return self

    def trust_of(self, *roles: str | None, granted: Iterable[Trust] = ()) -> Trust:
        """Return the highest trust any of ``roles`` or ``granted`` gives, else ``default``.

        A role is an ``author_association`` (UPPER CASE) or a repository permission (lower
        case), as GitHub spells them; None and unknown roles count as unmatched.
        ``granted`` are levels another section of the policy gives outright (a Slack user's,
        from ``slack:``; see factory.config.slack_policy).
        """
        table: dict[str, Trust] = dict(self.associations.items())
        table.update(self.permissions.items())
        found = [table[role] for role in roles if role is not None and role in table]
        return max([self.default, *found, *granted], key=lambda t: TRUST_ORDER[t])


class Labels(_Model):
    """Names of the labels the factory reads and writes on GitHub."""

    triage: str = "factory:triage"
    """New work that needs triage."""
    ready: str = "factory:ready"
    """Approved by a maintainer, ready to build."""
    review: str = "factory:review"
    """A pull request waits for review."""
    blocked: str = "factory:blocked"
    """The factory cannot go on without input."""
    needs_human: str = "needs-human"
    """A human must decide (e.g. merge of a risky change)."""


class ModelPrice(_Model):
    """USD per million tokens for one model."""

    input: float = Field(ge=0)
    """Uncached input tokens."""
    output: float = Field(ge=0)
    """Output tokens."""
    cache_write: float = Field(ge=0)
    """Tokens written to the prompt cache."""
    cache_read: float = Field(ge=0)
    """Tokens read from the prompt cache."""

    def cost_usd(self, usage: Usage) -> float:
        """Return the USD cost of ``usage`` at these prices."""
        total = (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_creation_input_tokens * self.cache_write
            + usage.cache_read_input_tokens * self.cache_read
        )
        return total / 1_000_000


class Policy(_Model):
    """``harness/policy.yaml``."""

    trust: TrustPolicy = Field(default_factory=TrustPolicy)
    """GitHub roles → trust levels."""
    protected_paths: Globs = Field(default_factory=list)
    """Globs of paths an agent's change may not touch."""
    risk_tiers: dict[str, RiskTier] = Field(min_length=1)
    """Risk tiers from least to most risky; a change gets the first tier it fits."""
    risk_rules: dict[str, RiskRule] = Field(default_factory=dict)
    """Kinds of change (by path, old and new) that raise a change to at least a given tier."""
    required_checks: list[str] = Field(default_factory=list)
    """Check runs or commit statuses that must be present and green before any merge."""
    labels: Labels = Field(default_factory=Labels)
    """Factory label names."""
    prices: dict[str, ModelPrice] = Field(min_length=1)
    """Model name → prices."""
    slack: SlackPolicy = Field(default_factory=SlackPolicy)
    """Slack users → trust levels, and the channels mentions are taken in."""
    sentry: SentryPolicy = Field(default_factory=SentryPolicy)
    """Closing the loop with Sentry: resolve on merge, reopen on regression, approval."""
    planner: PlannerPolicy = Field(default_factory=PlannerPolicy)
    """Whether the planner may approve (label ready) the issues it plans."""
    tests: TestsPolicy = Field(default_factory=TestsPolicy)
    """How the repository's tests run (the bug fixer's reproduction check)."""
    review: ReviewPolicy = Field(default_factory=ReviewPolicy)
    """Whether the factory's own approval counts for the merge gate (default: never)."""
    sandbox: SandboxPolicy = Field(default_factory=SandboxPolicy)
    """Every run's default disk cap and the data directory's free-space reserve."""
    egress: EgressPolicy = Field(default_factory=EgressPolicy)
    """Named host bundles for ``network: allowlist`` and the per-run egress caps."""
    verifier: VerifierPolicy = Field(default_factory=VerifierPolicy)
    """What the post-merge verifier may revert, and whether a revert may auto-merge."""

    @model_validator(mode="after")
    def _last_tier_catches_all(self) -> Policy:
        last = list(self.risk_tiers.values())[-1]
        if last.paths or last.max_changed_files is not None or last.max_changed_lines is not None:
            raise ValueError("the last risk tier must have no rules: it catches every change")
        for name, rule in self.risk_rules.items():
            if rule.tier not in self.risk_tiers:
                raise ValueError(f"risk rule {name!r} names unknown risk tier {rule.tier!r}")
        if problem := review_tier_problem(self.review, self.risk_tiers):
            raise ValueError(problem)
        return self

    def is_protected(self, path: str) -> bool:
        """Return whether ``path`` (repo-relative, '/'-separated) matches a protected glob."""
        return matches_any(path, self.protected_paths)

    def risk(self, changes: Mapping[str, int] | Iterable[FileChange]) -> RiskPlacement:
        """Return the risk tier of a change and why it is not lower (factory.config.risk).

        ``changes`` is a list of FileChange, or ``{path: added + removed lines}``.
        """
        return place(self.risk_tiers, self.risk_rules, self.is_protected, file_changes(changes))

    def risk_tier(self, changes: Mapping[str, int] | Iterable[FileChange]) -> str:
        """Return the name of the tier of a change (see ``risk``)."""
        return self.risk(changes).tier

    def cost_usd(self, model: str, usage: Usage) -> float:
        """Return the USD cost of ``usage`` on ``model``; raises ModelNotPriced if unknown."""
        price = self.prices.get(model)
        if price is None:
            raise ModelNotPriced(model)
        return price.cost_usd(usage)


@dataclass(frozen=True)
class Harness:
    """The loaded harness folder."""

    root: Path
    """The harness folder as the caller named it."""
    policy: Policy
    """The validated policy."""
    policy_bytes: bytes
    """policy.yaml's bytes (part of every automation's content hash)."""
    documents: dict[str, bytes] = field(default_factory=dict)
    """Every other file, keyed "harness/REL/PATH" (the form context entries use)."""

    def document(self, entry: str) -> str:
        """Return the text of a "harness/..." context entry; raises KeyError if absent."""
        return self.documents[entry].decode("utf-8")


def read_harness(harness_dir: Path) -> tuple[Harness | None, list[ConfigIssue]]:
    """Load ``harness_dir``; return the harness (None if the policy is invalid) and issues.

    Never raises for bad content.
    """
    policy_path = harness_dir / POLICY_FILE
    if not policy_path.is_file():
        return None, [ConfigIssue(str(policy_path), 1, 1, "missing harness policy file")]
    doc, issues = load_yaml(policy_path, str(policy_path))
    policy: Policy | None = None
    if doc is not None:
        policy, more = validate_model(doc, Policy)
        issues += more
    if policy is None or issues:
        return None, issues
    documents = {
        "harness/" + p.relative_to(harness_dir).as_posix(): p.read_bytes()
        for p in sorted(harness_dir.rglob("*"))
        if p.is_file() and p != policy_path
    }
    return Harness(harness_dir, policy, policy_path.read_bytes(), documents), []


def load_harness(harness_dir: Path) -> Harness:
    """Return the loaded harness; raises ConfigError with every issue found."""
    harness, issues = read_harness(harness_dir)
    if harness is None or issues:
        raise ConfigError(issues)
    return harness
