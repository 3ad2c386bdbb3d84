"""Prompt templates: the one render context, a static check at load time, and rendering.

Prompts are Jinja2 templates rendered with ``StrictUndefined`` in a sandboxed environment.
``PromptContext`` is the single definition of what a template may use; ``check_template``
walks a template's AST and reports names and attributes outside it, so a typo such as
``subject.titel`` is a load-time error with a position instead of a failed run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from factory.config.automation import Automation


class _Ctx(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubjectContext(_Ctx):
    """What the run is about; ``kind`` is "none" for runs without a subject."""

    kind: str = "none"
    """issue | pull_request | commit | none."""
    number: int | None = None
    """Issue or pull request number."""
    title: str = ""
    """Title of the issue or pull request (untrusted text)."""
    body: str = ""
    """Body of the issue or pull request as snapshotted at claim time (untrusted text)."""
    url: str = ""
    """Web URL of the subject."""
    labels: list[str] = Field(default_factory=list)
    """Label names on the subject."""
    author: str = ""
    """Login of the subject's author."""
    trust: str = "anyone"
    """Trust of the author: maintainers | collaborators | anyone."""
    branch: str | None = None
    """Head branch of a pull request, or the branch of a commit."""
    head_sha: str | None = None
    """Head commit SHA of a pull request, or the commit SHA."""


@dataclass(frozen=True)
class SubjectSnapshot:
    """The subject's text as read at claim time, with who wrote it."""

    context: SubjectContext
    comments: tuple[tuple[str, str, str], ...] = ()
    """(author, trust, body) of the latest comments, oldest first."""


class EventContext(_Ctx):
    """The event that caused the run."""

    source: str
    """github | sentry | slack | schedule | manual."""
    kind: str
    """Event kind, e.g. "issues.labeled"."""
    actor: str = ""
    """Who caused the event (login, Slack user, ...)."""
    trust: str = "anyone"
    """Trust of the actor: maintainers | collaborators | anyone."""
    payload: dict[str, Any] = Field(default_factory=dict)
    """The source's payload, as received (untrusted)."""


class RepoContext(_Ctx):
    """The target repository."""

    full_name: str
    """owner/name."""
    default_branch: str = "main"
    """The default branch name."""
    url: str = ""
    """Web URL of the repository."""


class AutomationContext(_Ctx):
    """The automation being run."""

    name: str
    """The automation's name."""
    description: str = ""
    """The automation's description."""


class RunContext(_Ctx):
    """The run itself."""

    id: str
    """Run id."""
    attempt: int = 1
    """1 for the first attempt, then 2, 3... on retries."""


class PromptContext(_Ctx):
    """Everything a prompt template can use; top-level fields are the template's names."""

    subject: SubjectContext = Field(default_factory=SubjectContext)
    """What the run is about."""
    event: EventContext
    """The event that caused the run."""
    repo: RepoContext
    """The target repository."""
    automation: AutomationContext
    """The automation being run."""
    run: RunContext
    """The run."""
    now: datetime
    """When the prompt is rendered (UTC, timezone-aware)."""


def _known_attributes() -> dict[str, frozenset[str] | None]:
    """Map each context name to its allowed attributes (None: anything goes)."""
    known: dict[str, frozenset[str] | None] = {}
    for name, field in PromptContext.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            known[name] = frozenset(ann.model_fields)
        else:
            known[name] = None
    return known


KNOWN_CONTEXT: dict[str, frozenset[str] | None] = _known_attributes()
"""Names a template may use → their attributes (None: not checked, e.g. ``now``)."""


def make_environment() -> SandboxedEnvironment:
    """Return the Jinja2 environment used for every prompt (strict, sandboxed, no escaping)."""
    # Prompts are plain text for a model, not HTML: escaping would corrupt them.
    return SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


@dataclass(frozen=True)
class TemplateProblem:
    """One problem in a template: 1-based template line, 0-based column in that line."""

    line: int
    col: int
    message: str


def check_template(source: str) -> list[TemplateProblem]:
    """Return every syntax error, undefined name and unknown attribute in ``source``.

    Returns an empty list for a good template. Never raises for a bad template.
    """
    env = make_environment()
    try:
        tree = env.parse(source)
        env.compile(source)  # catches unknown filters and tests too
    except TemplateSyntaxError as exc:
        return [TemplateProblem(exc.lineno or 1, 0, f"template error: {exc.message}")]
    lines = source.splitlines()
    free = meta.find_undeclared_variables(tree)
    problems: list[TemplateProblem] = []
    seen: dict[tuple[int, str], int] = {}

    def column(lineno: int, pattern: str) -> int:
        text = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
        nth = seen.get((lineno, pattern), 0)
        seen[(lineno, pattern)] = nth + 1
        matches = list(re.finditer(pattern, text))
        return matches[min(nth, len(matches) - 1)].start() if matches else 0

    for node in tree.find_all((nodes.Name, nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Name):
            if node.ctx == "load" and node.name in free and node.name not in KNOWN_CONTEXT:
                col = column(node.lineno, rf"(?<![\w.]){re.escape(node.name)}\b")
                problems.append(
                    TemplateProblem(node.lineno, col, f"undefined template variable {node.name!r}")
                )
            continue
        if not isinstance(node, nodes.Getattr | nodes.Getitem):
            continue
        attr = _static_attribute(node)
        base = node.node
        if attr is None or not isinstance(base, nodes.Name) or base.name not in free:
            continue
        allowed = KNOWN_CONTEXT.get(base.name)
        if allowed is None or attr in allowed:
            continue
        col = column(node.lineno, rf"\b{re.escape(attr)}\b")
        known = ", ".join(sorted(allowed))
        message = f"unknown attribute {attr!r} of {base.name!r} (known: {known})"
        problems.append(TemplateProblem(node.lineno, col, message))
    return problems


def _static_attribute(node: nodes.Getattr | nodes.Getitem) -> str | None:
    """Return the attribute name of ``x.attr`` or ``x["attr"]``; None if not static."""
    if isinstance(node, nodes.Getattr):
        return node.attr
    arg = node.arg
    if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
        return arg.value
    return None


def render_prompt(automation: Automation, context: PromptContext) -> str:
    """Return ``automation.prompt`` rendered with ``context``.

    Raises jinja2.UndefinedError if the template uses something the context lacks (the
    load-time check makes that rare), jinja2.TemplateError for other template failures.
    """
    template = make_environment().from_string(automation.prompt)
    values = {name: getattr(context, name) for name in PromptContext.model_fields}
    return template.render(**{k: _jinja_value(v) for k, v in values.items()})


def _jinja_value(value: Any) -> Any:
    """Models become dicts (Jinja reads ``a.b`` from keys); other values pass through."""
    return value.model_dump() if isinstance(value, BaseModel) else value
