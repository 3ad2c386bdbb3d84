"""``factoryd validate`` warnings: a configuration valid on its own that cannot do its job.

An automation whose ``open_pull_request`` has ``require_failing_test: true`` needs the
policy's ``tests.command``: without it every pull request it asks for is refused (no
reproduction can be run), which a team sees only in a failed run. A warning, never an error:
the policy may be filled in later, and until then the refusal keeps the rule honest.
"""

from __future__ import annotations

import re

from factory.config.automation import Automation
from factory.config.cache_check import warning_at
from factory.config.harness import Harness
from factory.errors import ConfigIssue

_FLAG_LINE = re.compile(r"^\s*(open_pull_request\s*:.*)?require_failing_test\b", re.MULTILINE)


def policy_warnings(automations: list[Automation], harness: Harness) -> list[ConfigIssue]:
    """Return one warning per automation that requires a failing test with no test command."""
    if harness.policy.tests.command:
        return []
    warnings = []
    for automation in automations:
        wanted = automation.outputs.open_pull_request
        if wanted is None or not wanted.require_failing_test:
            continue
        warnings.append(
            warning_at(
                automation,
                _FLAG_LINE,
                "open_pull_request requires a failing test but harness/policy.yaml"
                " names no tests.command: every pull request this automation asks for will be"
                " refused until the policy says how the tests run",
            )
        )
    return warnings
