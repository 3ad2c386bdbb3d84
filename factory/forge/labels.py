"""The factory's label conventions: which labels it uses (names from policy), their colours.

Names come from ``harness/policy.yaml`` (``Policy.labels``); colours and descriptions
are fixed here so every repository the factory works on looks the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from github import GithubException
from github.Repository import Repository

from factory.config.harness import Labels, Policy

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class LabelSpec:
    """One factory label: its role in the policy, name, colour (hex) and description."""

    role: str
    name: str
    color: str
    description: str


_LOOK: dict[str, tuple[str, str]] = {
    "triage": ("fbca04", "Factory: new work that needs triage"),
    "ready": ("0e8a16", "Factory: approved by a maintainer, ready to build"),
    "review": ("5319e7", "Factory: a pull request waits for review"),
    "blocked": ("b60205", "Factory: cannot go on without input"),
    "needs_human": ("d93f0b", "A human must decide"),
}


def factory_labels(labels: Labels) -> list[LabelSpec]:
    """Return the label specs for the names in ``labels``, in policy order."""
    specs: list[LabelSpec] = []
    for role in type(labels).model_fields:
        color, description = _LOOK.get(role, ("ededed", "Factory label"))
        specs.append(LabelSpec(role, getattr(labels, role), color, description))
    return specs


def ensure_labels(repo: Repository, policy: Policy) -> list[str]:
    """Create the factory labels ``repo`` lacks (names compared case-insensitively).

    Idempotent: existing labels are left as they are (people may recolour them), and a
    label created concurrently by someone else counts as present. Returns the names
    created. Raises PyGithub's GithubException for other GitHub errors.
    """
    existing = {label.name.lower() for label in repo.get_labels()}
    created: list[str] = []
    for spec in factory_labels(policy.labels):
        if spec.name.lower() in existing:
            continue
        try:
            repo.create_label(spec.name, spec.color, spec.description)
        except GithubException as exc:
            if exc.status != 422:  # 422 already_exists: created meanwhile
                raise
            continue
        existing.add(spec.name.lower())
        created.append(spec.name)
        log.info("label_created", label=spec.name, repo=repo.full_name)
    return created
