"""``factoryd validate`` warnings: an automation whose cacheable prefix is too short to cache.

The Messages API caches a prefix only from the model's minimum length on (``cacherules``);
below it every call pays the full input price with no error. The prefix here is what
``validate`` can see of the system blocks: the harness documents in ``context:`` and the
prompt template, estimated at four characters a token. Tool definitions, repository
documents and the rendered values are not known here and not counted, so an automation
just under the line may in fact cache; one far under it does not. A warning, never an error.
"""

from __future__ import annotations

import re

from factory.cacherules import estimate_tokens, min_cacheable_tokens
from factory.config.automation import Automation
from factory.config.harness import Harness
from factory.errors import ConfigIssue

_MODEL_LINE = re.compile(r"^model\s*:", re.MULTILINE)


def prefix_estimate(automation: Automation, harness: Harness) -> int:
    """Return the estimated tokens of the automation's stable prefix (see the module doc)."""
    present = [e for e in automation.harness_documents() if e in harness.documents]
    parts = [harness.document(entry) for entry in present]  # an optional entry may be absent
    return sum(estimate_tokens(part) for part in [*parts, automation.prompt])


def cache_warnings(automations: list[Automation], harness: Harness) -> list[ConfigIssue]:
    """Return one warning per automation whose prefix estimate is below its model's minimum."""
    warnings = []
    for automation in automations:
        estimate = prefix_estimate(automation, harness)
        minimum = min_cacheable_tokens(automation.model)
        if estimate >= minimum:
            continue
        warnings.append(
            warning_at(
                automation,
                _MODEL_LINE,
                f"cacheable prefix is about {estimate} tokens (harness documents + "
                f"prompt, 4 characters a token), below {automation.model}'s minimum of "
                f"{minimum}: its prompt is not cached and every call pays the full input "
                "price",
            )
        )
    return warnings


def warning_at(automation: Automation, line: re.Pattern[str], message: str) -> ConfigIssue:
    """A ``validate`` warning at the first line of the automation's file that ``line``
    matches (line 1 when none does)."""
    found = line.search(automation.source_text)
    number = automation.source_text.count("\n", 0, found.start()) + 1 if found else 1
    return ConfigIssue(str(automation.path), number, 1, f"warning: {message}")
