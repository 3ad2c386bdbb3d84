"""Loading the whole configuration: ``automations/*.yaml`` plus ``harness/``, all issues at once.

Each file is checked as far as it can be (YAML, schema, prompt template, context documents,
model price, unique name) so one run of ``factoryd validate`` reports every problem of every
file. Issues name the file as the caller gave its folder (relative stays relative).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factory.config.automation import DEFAULT_MODEL, Automation, AutomationSpec
from factory.config.cache_check import cache_warnings
from factory.config.egress_policy import BUNDLE_RE
from factory.config.harness import Harness, Policy, read_harness
from factory.config.policy_check import policy_warnings
from factory.config.templating import check_template
from factory.config.yamlpos import YamlDoc, load_yaml, parse_yaml, validate_model
from factory.errors import ConfigError, ConfigIssue

AUTOMATION_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class FactoryConfig:
    """Every automation (by name, in file order) and the harness they share."""

    automations: dict[str, Automation]
    """Loaded automations keyed by name."""
    harness: Harness
    """The harness: policy and context documents."""

    @property
    def policy(self) -> Policy:
        """The harness policy."""
        return self.harness.policy


def automation_files(automations_dir: Path) -> list[Path]:
    """Return the automation files directly in ``automations_dir``, sorted by name."""
    return sorted(
        p for p in automations_dir.iterdir() if p.is_file() and p.suffix in AUTOMATION_SUFFIXES
    )


def read_config(
    automation_paths: Sequence[Path], harness_dir: Path
) -> tuple[FactoryConfig | None, list[ConfigIssue]]:
    """Load the given automation files and the harness; return the config and all issues.

    The config is None when there is any issue. Never raises for bad content.
    """
    harness, issues = read_harness(harness_dir)
    automations: dict[str, Automation] = {}
    names: dict[str, str] = {}
    for path in automation_paths:
        automation, file_issues = _read_automation(path, harness, names)
        issues += file_issues
        if automation is not None:
            automations[automation.name] = automation
    issues += _shadow_issues(automations)
    if issues or harness is None:
        return None, issues
    return FactoryConfig(automations=automations, harness=harness), []


def _shadow_issues(automations: dict[str, Automation]) -> list[ConfigIssue]:
    """A shadow names a live automation (not a shadow) of the same subject."""
    issues = []
    for automation in automations.values():
        if automation.shadow_of is None:
            continue
        live = automations.get(automation.shadow_of)
        if live is None:
            problem = f"shadow_of: no automation named {automation.shadow_of!r}"
        elif live.shadow_of is not None:
            problem = f"shadow_of: {live.name!r} is itself a shadow; name a live automation"
        elif live.subject != automation.subject:
            problem = f"subject: a shadow of {live.name!r} must have its subject {live.subject!r}"
        else:
            continue
        doc, _ = parse_yaml(automation.source_text, str(automation.path))
        key = problem.split(":")[0]
        issues.append(
            doc.issue((key,), problem) if doc else ConfigIssue(str(automation.path), 1, 1, problem)
        )
    return issues


def load_factory(automations_dir: Path, harness_dir: Path) -> FactoryConfig:
    """Return every automation in ``automations_dir`` with the harness in ``harness_dir``.

    Raises ConfigError carrying every issue of every file.
    """
    listing_issues: list[ConfigIssue] = []
    paths = _listing(automations_dir, listing_issues)
    config, issues = read_config(paths, harness_dir)
    if config is None or listing_issues or issues:
        raise ConfigError(listing_issues + issues)
    return config


def validate(automations_dir: Path, harness_dir: Path) -> list[ConfigIssue]:
    """Return every issue in ``automations_dir`` and ``harness_dir``, sorted (empty: valid)."""
    listing_issues: list[ConfigIssue] = []
    paths = _listing(automations_dir, listing_issues)
    _, issues = read_config(paths, harness_dir)
    return ConfigError(listing_issues + issues).issues


def validate_warnings(automations_dir: Path, harness_dir: Path) -> list[ConfigIssue]:
    """Return the warnings of a valid configuration (prefixes too short to be cached, a
    failing test required with no test command).

    Raises ConfigError if the configuration is not valid (call ``validate`` first).
    """
    config = load_factory(automations_dir, harness_dir)
    automations = list(config.automations.values())
    return cache_warnings(automations, config.harness) + policy_warnings(
        automations, config.harness
    )


def _listing(automations_dir: Path, issues: list[ConfigIssue]) -> list[Path]:
    if not automations_dir.is_dir():
        issues.append(ConfigIssue(str(automations_dir), 1, 1, "automations folder not found"))
        return []
    return automation_files(automations_dir)


def _read_automation(
    path: Path, harness: Harness | None, names: dict[str, str]
) -> tuple[Automation | None, list[ConfigIssue]]:
    """Check one file; ``names`` maps names already taken to their file and is updated."""
    doc, issues = load_yaml(path, str(path))
    if doc is None:
        return None, issues
    spec, schema_issues = validate_model(doc, AutomationSpec)
    issues += schema_issues
    data: dict[str, Any] = doc.data if isinstance(doc.data, dict) else {}
    if isinstance(data.get("prompt"), str):
        issues += _template_issues(doc, data["prompt"])
    issues += _name_issues(doc, data.get("name"), names)
    if harness is not None:
        issues += _context_issues(doc, data.get("context"), harness)
        issues += _price_issues(doc, data.get("model", DEFAULT_MODEL), harness.policy)
        issues += _bundle_issues(doc, data.get("sandbox"), harness.policy)
    if spec is None or issues or harness is None:
        return None, issues
    automation = Automation(
        **dict(spec),
        path=path,
        source_text=doc.text,
        content_hash=content_hash(path.read_bytes(), spec, harness),
    )
    return automation, []


def content_hash(file_bytes: bytes, spec: AutomationSpec, harness: Harness) -> str:
    """Return the sha256 (hex) of the file, its harness context documents and the policy."""
    digest = hashlib.sha256()
    parts = [file_bytes]
    for entry in spec.harness_documents():
        parts += [entry.encode(), harness.documents.get(entry, b"")]  # absent: optional
    parts.append(harness.policy_bytes)
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _name_issues(doc: YamlDoc, name: object, names: dict[str, str]) -> list[ConfigIssue]:
    if not isinstance(name, str):
        return []
    if name in names:
        return [
            doc.issue(("name",), f"duplicate automation name {name!r} (first in {names[name]})")
        ]
    names[name] = doc.file
    return []


def _context_issues(doc: YamlDoc, context: object, harness: Harness) -> list[ConfigIssue]:
    if not isinstance(context, list):
        return []
    return [
        doc.issue(("context", i), f"harness document {entry!r} not found in {harness.root}")
        for i, entry in enumerate(context)
        if isinstance(entry, str)
        and entry.startswith("harness/")
        and not entry.endswith("?")  # optional: may be absent
        and ".." not in entry.split("/")
        and entry not in harness.documents
    ]


def _price_issues(doc: YamlDoc, model: object, policy: Policy) -> list[ConfigIssue]:
    if not isinstance(model, str) or not model or model in policy.prices:
        return []
    return [doc.issue(("model",), f"model {model!r} has no price in harness policy.yaml")]


def _bundle_issues(doc: YamlDoc, sandbox: object, policy: Policy) -> list[ConfigIssue]:
    allow = sandbox.get("allow") if isinstance(sandbox, dict) else None
    if not isinstance(allow, list):
        return []
    return [
        doc.issue(("sandbox", "allow", i), f"egress bundle {entry!r} not in harness policy.yaml")
        for i, entry in enumerate(allow)
        if isinstance(entry, str) and BUNDLE_RE.match(entry) and entry not in policy.egress.bundles
    ]


def _template_issues(doc: YamlDoc, prompt: str) -> list[ConfigIssue]:
    """Check the prompt template; map template line/col to the YAML file's line/col."""
    problems = check_template(prompt)
    if not problems:
        return []
    line, col = doc.position(("prompt",))
    lines = doc.text.splitlines()
    header = lines[line - 1][col - 1 :] if 0 < line <= len(lines) else ""
    marker = header[:1]
    # Folded (">") text joins lines, so only literal blocks map line by line.
    block = marker == "|"
    indent = _block_indent(lines, line, header[1:], doc.position(("prompt",), key=True))
    issues = []
    for problem in problems:
        if block:
            # Block scalar: content starts on the line after the indicator, at its indent.
            file_line, file_col = line + problem.line, indent + problem.col + 1
        elif problem.line == 1:
            file_line, file_col = line, col + (1 if marker in ("'", '"') else 0) + problem.col
        else:
            # A flow scalar's template lines do not map to file lines: point at its start.
            file_line, file_col = line, col
        issues.append(ConfigIssue(doc.file, file_line, file_col, problem.message))
    return issues


def _block_indent(
    lines: list[str], indicator_line: int, header: str, key_position: tuple[int, int]
) -> int:
    """Return the 0-based indentation of a block scalar's content.

    An explicit indentation indicator (``|2``) counts from the key's indentation; otherwise
    the first non-blank content line sets it, as YAML does.
    """
    digits = [c for c in header.split("#", 1)[0] if c.isdigit()]
    if digits:
        return key_position[1] - 1 + int(digits[0])
    for text in lines[indicator_line:]:
        if text.strip():
            return len(text) - len(text.lstrip(" "))
    return 0
