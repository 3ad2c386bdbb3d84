"""The automation schema: one YAML file in ``automations/`` validated into ``AutomationSpec``.

Every model forbids unknown keys and documents each field. Defaults are chosen so that a
file with only ``name``, ``on`` and ``prompt`` is valid. Loading (positions, cross-file
checks, hashes) lives in ``factory.config.loader``; triggers (``on:``) in
``factory.config.triggers``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from factory.config.durations import PositiveDuration
from factory.config.egress_policy import check_entry
from factory.config.outputs_config import (
    Outputs,
)
from factory.config.outputs_config import (
    StrictModel as _Model,
)
from factory.config.slack_policy import SlackChannelId
from factory.config.triggers import Trigger
from factory.events import Trust
from factory.interfaces import SandboxLimits

KNOWN_TOOLS: set[str] = {
    "bash",
    "editor",
    "github_read",
    "slack_read",
    "slack_channel",
    "sentry_read",
    "factory_runs",
}
"""Tool names an automation may list; agent code registering a new tool adds its name here."""

DEFAULT_MODEL = "claude-sonnet-5"
"""Model used when an automation does not name one."""

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
"""Lowercase letters, digits, ``-`` and ``_``; starts with a letter or digit."""


def parse_memory_mb(value: object) -> int:
    """Return megabytes from an int (MB) or a string such as "512m", "2g", "2048".

    Raises ValueError for anything else.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"(\d+)\s*([mg]b?)?", value.strip().lower())
        if match and int(match.group(1)) > 0:
            unit = (match.group(2) or "m")[0]
            return int(match.group(1)) * (1024 if unit == "g" else 1)
    raise ValueError(f"invalid memory size {value!r}: expected e.g. 512m, 2g or MB as a number")


class Limits(_Model):
    """Budgets of one run (and of the automation per day)."""

    max_turns: int = Field(default=50, ge=1)
    """Model turns one run may take."""
    run_usd: float = Field(default=2.0, gt=0)
    """USD one run may spend on model calls."""
    daily_usd: float = Field(default=20.0, gt=0)
    """USD this automation may spend per UTC day, all runs together."""
    timeout: PositiveDuration = 30 * 60
    """Wall-clock limit of one run."""


class SandboxConfig(_Model):
    """Where the agent's commands run."""

    backend: Literal["bwrap", "none"] = "bwrap"
    """bwrap (bubblewrap) or none (unsandboxed, logged loudly; explicit opt-in only)."""
    network: Literal["none", "full", "allowlist"] = "none"
    """Network access of sandboxed commands (allowlist: only ``allow``, via the egress proxy)."""
    allow: list[Annotated[str, AfterValidator(check_entry)]] = Field(default_factory=list)
    """With ``network: allowlist``: bundle names (policy ``egress.bundles``) or host[:port]."""
    memory: Annotated[int, BeforeValidator(parse_memory_mb)] = 2048
    """Memory limit per command, in MB ("2g", "512m" or a number of MB)."""
    command_timeout: PositiveDuration = 120
    """Time limit of one command."""
    max_processes: int = Field(default=256, ge=1)
    """Process limit per command."""
    disk: Annotated[int | None, BeforeValidator(parse_memory_mb)] = None
    """The run's disk cap in MB ("2g", "512m"); unset: the policy's ``sandbox.disk``."""

    @model_validator(mode="after")
    def _allow_needs_allowlist(self) -> SandboxConfig:
        if self.allow and self.network != "allowlist":
            raise ValueError("sandbox.allow needs network: allowlist")
        if self.network == "allowlist" and self.backend != "bwrap":
            raise ValueError("network: allowlist needs backend: bwrap")
        return self

    def limits(self) -> SandboxLimits:
        """Return these settings as the SandboxLimits the Sandbox protocol takes."""
        return SandboxLimits(
            timeout_s=float(self.command_timeout),
            memory_mb=self.memory,
            max_processes=self.max_processes,
        )


class Retries(_Model):
    """How a failed run is retried."""

    max: int = Field(default=0, ge=0, le=10)
    """Retries after the first attempt (0: none)."""
    backoff: PositiveDuration = 300
    """Delay before the first retry; doubled for each later one."""


class Challenge(_Model):
    """A second session, run by the daemon after the first, that challenges its draft.

    The first session's ``output_propose_config_change`` only records a draft. When it ends,
    a new session starts with no context of the first (no conversation, none of its
    instructions): this prompt, the automation's read tools, and the draft as its only input.
    Its own ``output_propose_config_change`` is the one that is performed; the daemon puts
    the draft's evidence beside the challenger's in the description.
    """

    prompt: str = Field(min_length=1)
    """The challenger's instructions (plain text, not a template)."""
    lower_only: str | None = None
    """A file of the draft (e.g. harness/quality.md) holding a grade table (``| area | grade
    | evidence |``, grades A-F): the challenger may keep or lower each grade, never raise,
    add or drop one."""
    max_turns: int = Field(default=20, ge=1)
    """Model turns the challenger may take (the run's USD budget is shared)."""


def _check_context_entry(entry: str) -> str:
    name = entry.removesuffix("?")  # "harness/spec.md?": included when present
    if name.startswith("harness/"):
        rel = name.removeprefix("harness/")
    elif name.startswith("repo:"):
        rel = name.removeprefix("repo:")
    else:
        raise ValueError(f"context entry {entry!r} must be 'harness/PATH' or 'repo:PATH'")
    parts = Path(rel).parts
    if not rel or rel.startswith("/") or ".." in parts:
        raise ValueError(f"context entry {entry!r} must name a relative path without '..'")
    return entry


def _check_tool(name: str) -> str:
    if name not in KNOWN_TOOLS:
        raise ValueError(f"unknown tool {name!r} (known: {', '.join(sorted(KNOWN_TOOLS))})")
    return name


def _check_run_trust(trust: Trust) -> Trust:
    if trust == "data":
        raise ValueError(
            "trust 'data' is what Sentry's events carry, not a level an automation can ask"
            " for: 'anyone' takes data events too, and nothing above it does"
        )
    return trust


RunTrust = Annotated[Trust, AfterValidator(_check_run_trust)]
"""The least trusted person who may start a run: maintainers | collaborators | anyone."""
ContextEntry = Annotated[str, AfterValidator(_check_context_entry)]
"""A prompt document: "harness/PATH" (checked at load) or "repo:PATH" (read at run time);
"harness/PATH?" is optional: included when the harness has it, skipped (no error) when not."""
ToolName = Annotated[str, AfterValidator(_check_tool)]
"""A name from KNOWN_TOOLS."""


class AutomationSpec(_Model):
    """One automation as written in YAML."""

    name: Slug
    """Unique name (slug) of the automation."""
    description: str = ""
    """One or two sentences on what it does."""
    enabled: bool = True
    """Whether events start runs of it."""
    shadow_of: Slug | None = None
    """The live automation this one shadows: it runs on the live one's events (no ``on:`` of
    its own), beside it, with every output staged — a prompt edit trialled on real events."""
    on: list[Trigger] = Field(default_factory=list)
    """What starts a run (at least one; none on a shadow, which runs on its live one's)."""
    subject: Literal["issue", "pull_request", "commit", "slack", "sentry", "none"] = "issue"
    """What a run is about (the unit of mutual exclusion)."""
    trust: RunTrust = "maintainers"
    """The least trusted actor whose events may start a run: maintainers | collaborators |
    anyone."""
    model: str = Field(default=DEFAULT_MODEL, min_length=1)
    """Model name; must have a price in harness/policy.yaml."""
    limits: Limits = Field(default_factory=Limits)
    """Run and daily budgets."""
    concurrency: int = Field(default=1, ge=1)
    """How many runs of it may execute at once."""
    workspace: Literal["none", "default-branch", "pull-request", "merge-commit"] = "default-branch"
    """Which checkout a run gets (merge-commit: a merged pull request's merge commit)."""
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    """Sandbox settings."""
    tools: list[ToolName] = Field(default_factory=list)
    """Tools the agent gets; see KNOWN_TOOLS."""
    outputs: Outputs = Field(default_factory=Outputs)
    """Privileged actions the agent may request."""
    context: list[ContextEntry] = Field(default_factory=list)
    """Documents put in the prompt: "harness/PATH" or "repo:PATH"."""
    prompt: str = Field(min_length=1)
    """Jinja2 template of the task prompt; see factory.config.templating.PromptContext."""
    retries: Retries = Field(default_factory=Retries)
    """Retry policy for failed runs."""
    staged: bool = False
    """Stage every output: each is recorded as *would have* and none is performed; a run of a
    staged automation writes nothing to GitHub or Slack (it takes no claim either)."""

    @field_validator("on")
    @classmethod
    def _no_triggers_on_a_shadow(cls, on: list[Trigger], info: ValidationInfo) -> list[Trigger]:
        live = info.data.get("shadow_of")
        if live is not None and on:
            raise ValueError(f"a shadow runs on the events of {live!r}; remove its own triggers")
        return on

    @model_validator(mode="after")
    def _triggers_or_shadow(self) -> AutomationSpec:
        if self.shadow_of is None and not self.on:
            raise ValueError("on: at least one trigger is needed")
        if self.shadow_of == self.name:
            raise ValueError(f"shadow_of: {self.name!r} cannot shadow itself")
        return self

    @property
    def fully_staged(self) -> bool:
        """True when no output of a run is performed: staged, or a shadow."""
        return self.staged or self.shadow_of is not None

    def run_outputs(self) -> Outputs:
        """Return the outputs a run gets: ``outputs``, every kind staged when fully staged."""
        return self.outputs.all_staged() if self.fully_staged else self.outputs

    challenge: Challenge | None = None
    """A challenger session that reviews the run's draft proposal before it is made."""

    @model_validator(mode="after")
    def _challenge_needs_a_proposal(self) -> AutomationSpec:
        if self.challenge is not None and self.outputs.propose_config_change is None:
            raise ValueError(
                "challenge: needs the propose_config_change output (the challenger reviews the"
                " draft proposal; nothing else can be challenged)"
            )
        return self

    slack_channel: SlackChannelId | None = None
    """The Slack channel this automation reads (the ``slack_channel`` tool) and posts to (the
    ``slack_post`` output); an enabled automation using either must name one."""

    @model_validator(mode="after")
    def _self_reading_needs_maintainers(self) -> AutomationSpec:
        # The factory's own records hold every run's transcript (private code, people's
        # reports) and its config proposals shape every automation: only a run a maintainer
        # caused may read them or propose.
        if self.trust != "maintainers":
            wants = [t for t in self.tools if t == "factory_runs"]
            if self.outputs.propose_config_change is not None:
                wants.append("propose_config_change")
            if wants:
                raise ValueError(
                    f"{' and '.join(wants)} need trust: maintainers (the factory's own runs and"
                    f" config are not for runs an actor trusted as {self.trust!r} can cause)"
                )
        return self

    @model_validator(mode="after")
    def _channel_users_name_a_channel(self) -> AutomationSpec:
        # A channel id is the workspace's own: nothing shipped can know it, so an automation
        # that reads or posts to a channel is shipped disabled and enabled with its channel.
        if self.enabled and self.slack_channel is None:
            uses = [t for t in self.tools if t == "slack_channel"]
            if self.outputs.slack_post is not None:
                uses.append("slack_post")
            if uses:
                raise ValueError(
                    f"{' and '.join(uses)} need slack_channel: the id of the Slack channel to"
                    " read and post to (e.g. C0123ABCD); set it, or keep enabled: false"
                )
        return self

    def harness_documents(self) -> list[str]:
        """Return the context entries that name harness documents, in order (an optional
        entry's name without its "?")."""
        return [c.removesuffix("?") for c in self.context if c.startswith("harness/")]


class Automation(AutomationSpec):
    """A loaded automation: the spec plus where it came from and what it hashes to."""

    path: Path
    """The YAML file it was loaded from (as the caller named it)."""
    source_text: str
    """The YAML text."""
    content_hash: str
    """sha256 of the file, the harness documents it includes, and harness/policy.yaml."""
