"""The harness policy (trust, protected paths, risk tiers, prices) and prompt templating."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from factory.config.harness import Policy, load_harness, read_harness
from factory.config.loader import load_factory
from factory.config.risk import FileChange
from factory.config.templating import (
    AutomationContext,
    EventContext,
    PromptContext,
    RepoContext,
    RunContext,
    SubjectContext,
    check_template,
    render_prompt,
)
from factory.errors import ConfigError, ModelNotPriced
from factory.interfaces import Usage

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def policy() -> Policy:
    """The shipped policy."""
    return load_harness(ROOT / "harness").policy


def make_context(**subject: object) -> PromptContext:
    """Build a prompt context for issue #7 with ``subject`` overrides."""
    fields: dict[str, object] = {"kind": "issue", "number": 7, "title": "Fix it"} | subject
    return PromptContext(
        subject=SubjectContext.model_validate(fields),
        event=EventContext(source="github", kind="issues.labeled", payload={"label": "x"}),
        repo=RepoContext(full_name="acme/widgets"),
        automation=AutomationContext(name="builder"),
        run=RunContext(id="r1"),
        now=datetime(2025, 1, 2, tzinfo=UTC),
    )


def test_shipped_harness_loads_its_documents() -> None:
    """The shipped harness has its policy and the documents automations include."""
    harness = load_harness(ROOT / "harness")
    assert {"harness/factory-floor.md", "harness/coding-standards.md"} <= set(harness.documents)


@pytest.mark.parametrize(
    ("association", "permission", "trust"),
    [
        ("OWNER", None, "maintainers"),
        ("COLLABORATOR", None, "collaborators"),
        ("CONTRIBUTOR", None, "anyone"),
        ("CONTRIBUTOR", "maintain", "maintainers"),
        (None, None, "anyone"),
        ("SOMETHING_NEW", None, "anyone"),
    ],
)
def test_trust_of_gives_the_highest_matching_trust(
    policy: Policy, association: str | None, permission: str | None, trust: str
) -> None:
    """An actor gets the highest trust that their association or permission gives."""
    assert policy.trust.trust_of(association, permission) == trust


@pytest.mark.parametrize(
    ("path", "protected"),
    [
        (".github/workflows/ci.yml", True),
        (".env", True),
        ("deploy/prod/.env", True),
        ("harness/policy.yaml", True),
        ("src/app.py", False),
        ("docs/.envrc", False),
    ],
)
def test_is_protected_matches_globs(policy: Policy, path: str, protected: bool) -> None:
    """Protected-path globs match across directories only where ``**`` says so."""
    assert policy.is_protected(path) is protected


@pytest.mark.parametrize(
    ("changes", "tier"),
    [
        ({"docs/a.md": 10}, "low"),
        ({"src/app.py": 10}, "medium"),
        ({"docs/a.md": 500}, "medium"),
        ({f"src/{i}.py": 1 for i in range(30)}, "high"),
    ],
    ids=["small-docs", "code", "big-docs", "many-files"],
)
def test_risk_tier_is_the_first_tier_that_fits(
    policy: Policy, changes: dict[str, int], tier: str
) -> None:
    """A change gets the first risk tier whose rules it meets."""
    assert policy.risk_tier(changes) == tier


def test_cost_usd_uses_all_four_prices(policy: Policy) -> None:
    """Cost adds input, output, cache-write and cache-read tokens at their prices."""
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=100_000,
        cache_creation_input_tokens=1_000_000,
        cache_read_input_tokens=1_000_000,
    )
    assert policy.cost_usd("claude-sonnet-5", usage) == pytest.approx(3.0 + 1.5 + 3.75 + 0.30)


def test_cost_usd_of_unpriced_model_raises(policy: Policy) -> None:
    """A model with no price raises ModelNotPriced naming it."""
    with pytest.raises(ModelNotPriced, match="gpt-4"):
        policy.cost_usd("gpt-4", Usage())


def test_missing_policy_is_an_issue(tmp_path: Path) -> None:
    """A harness folder without policy.yaml gives one issue at that file."""
    _, issues = read_harness(tmp_path)
    assert [(i.file, i.message) for i in issues] == [
        (str(tmp_path / "policy.yaml"), "missing harness policy file")
    ]


def test_last_risk_tier_with_rules_is_an_issue(tmp_path: Path) -> None:
    """A last risk tier that has rules (so some change fits no tier) is reported at it."""
    shutil.copytree(ROOT / "harness", tmp_path / "h")
    policy = tmp_path / "h" / "policy.yaml"
    policy.write_text(
        policy.read_text().replace("  high:\n", "  high:\n    max_changed_files: 9\n")
    )
    with pytest.raises(ConfigError, match="last risk tier must have no rules"):
        load_harness(tmp_path / "h")


def test_policy_unknown_nested_key_is_reported_at_its_position(tmp_path: Path) -> None:
    """In policy.yaml an unknown key is reported at itself, a missing one at its parent key."""
    (tmp_path / "policy.yaml").write_text(
        "risk_tiers: {any: {}}\n"
        "prices:\n"
        "  m: {input: 1, output: 1, cache_write: 1, cache_reed: 1}\n"
    )
    _, issues = read_harness(tmp_path)
    assert [(i.line, i.col) for i in issues] == [(3, 3), (3, 44)]


def test_render_prompt_fills_in_the_context(tmp_path: Path) -> None:
    """render_prompt renders the automation's template with the given context."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.yaml").write_text(
        "name: x\non: [{manual: {}}]\n"
        "prompt: '#{{ subject.number }} {{ subject.title }} in {{ repo.full_name }}'\n"
    )
    automation = load_factory(tmp_path / "a", ROOT / "harness").automations["x"]
    assert render_prompt(automation, make_context()) == "#7 Fix it in acme/widgets"


def test_render_prompt_is_strict_about_missing_payload_keys(tmp_path: Path) -> None:
    """A payload key the event lacks fails the render instead of rendering empty."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.yaml").write_text(
        "name: x\non: [{manual: {}}]\nprompt: '{{ event.payload.missing }}'\n"
    )
    automation = load_factory(tmp_path / "a", ROOT / "harness").automations["x"]
    with pytest.raises(UndefinedError):
        render_prompt(automation, make_context())


def test_check_template_accepts_loops_sets_and_filters() -> None:
    """Names bound by for/set, loop variables and builtin filters are not reported."""
    source = (
        "{% set n = subject.labels | length %}{% for label in subject.labels %}"
        "{{ loop.index }} {{ label | upper }}{% endfor %}{{ n }} {{ now.year }} {{ range(2) }}"
    )
    assert check_template(source) == []


def test_check_template_reports_unknown_subscript_key() -> None:
    """``repo["nme"]`` is checked like ``repo.nme``."""
    problems = check_template('x\n{{ repo["nme"] }}')
    assert [(p.line, p.col) for p in problems] == [(2, 9)]


def test_check_template_reports_unknown_filter() -> None:
    """A filter that does not exist is a template error at its line."""
    problems = check_template("a\n{{ subject.title | shout }}")
    assert [(p.line, p.message) for p in problems] == [
        (2, "template error: No filter named 'shout'.")
    ]


# -- risk tiers of the shipped policy ------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "deploy/.env.production",
        "config/app.env",
        ".github/workflows/ci.yml",
        ".github/dependabot.yml",
        ".gitlab-ci.yml",
        "src/auth/login.py",
        "app/permissions.py",
        "api/middleware/cors.py",
        "pyproject.toml",
        "web/package.json",
        "requirements.txt",
        "requirements-dev.txt",
        "go.mod",
        "crates/core/Cargo.toml",
        "poetry.lock",
        "package-lock.json",
        "uv.lock",
        "Cargo.lock",
        "go.sum",
        "app/migrations/0002_add_user.py",
        "db/alembic/versions/abc.py",
    ],
)
def test_security_sensitive_change_is_high_risk(policy: Policy, path: str) -> None:
    """A one-line change to env, CI, auth, manifests, lock files or migrations is high risk."""
    tier = policy.risk_tier({path: 1})
    assert (tier, policy.risk_tiers[tier].needs_human) == ("high", True)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("src/auth/session.py", "docs/session.md"),
        (".github/workflows/release.yml", "docs/release.yml"),
        ("poetry.lock", "docs/poetry.txt"),
        ("app/migrations/0003.py", "tests/0003.py"),
    ],
)
def test_rename_out_of_a_sensitive_path_is_high_risk(policy: Policy, old: str, new: str) -> None:
    """A sensitive file renamed into docs or tests keeps the risk of its old path."""
    assert policy.risk_tier([FileChange(new, 0, 0, "renamed", old)]) == "high"


def test_risk_rule_naming_an_unknown_tier_is_an_issue(tmp_path: Path) -> None:
    """A risk rule's tier must be one of risk_tiers."""
    shutil.copytree(ROOT / "harness", tmp_path / "harness")
    policy_file = tmp_path / "harness" / "policy.yaml"
    text = policy_file.read_text().replace("tier: high", "tier: severe", 1)
    policy_file.write_text(text)
    _, issues = read_harness(tmp_path / "harness")
    assert [i.message for i in issues] == ["risk rule 'env_files' names unknown risk tier 'severe'"]
