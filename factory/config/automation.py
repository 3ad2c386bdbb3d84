"""The automation schema: one YAML file in ``automations/`` validated into ``AutomationSpec``.

Every model forbids unknown keys and documents each field. Defaults are chosen so that a
file with only ``name``, ``on`` and ``prompt`` is valid. Loading (positions, cross-file
checks, hashes) lives in ``factory.config.loader``; triggers (``on:``) in
``factory.config.triggers``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from factory.config.durations import PositiveDuration
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


CloseReason = Literal["completed", "not_planned"]
ReviewEvent = Literal["COMMENT", "APPROVE", "REQUEST_CHANGES"]
CLOSE_REASONS: tuple[CloseReason, ...] = ("completed", "not_planned")
DEFAULT_REVIEW: tuple[ReviewEvent, ...] = ("COMMENT",)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    network: Literal["none", "full"] = "none"
    """Network access of sandboxed commands."""
    memory: Annotated[int, BeforeValidator(parse_memory_mb)] = 2048
    """Memory limit per command, in MB ("2g", "512m" or a number of MB)."""
    command_timeout: PositiveDuration = 120
    """Time limit of one command."""
    max_processes: int = Field(default=256, ge=1)
    """Process limit per command."""

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


class OutputConfig(_Model):
    """Settings every output kind has."""

    max: int = Field(default=1, ge=0)
    """How many times one run may perform this output."""


class CreateIssueOutput(OutputConfig):
    """Open new issues."""

    labels: list[str] = Field(default_factory=list)
    """Labels put on every created issue."""
    title_prefix: str = ""
    """Prefix added to each created issue's title."""


class CommentOutput(OutputConfig):
    """Comment on the subject issue or pull request."""

    max: int = Field(default=3, ge=0)
    """How many comments one run may post."""


class LabelsOutput(OutputConfig):
    """Add or remove labels on the subject."""

    max: int = Field(default=5, ge=0)
    """How many label changes one run may make."""
    allowed: list[str] = Field(min_length=1)
    """The only labels this output may touch."""


class CloseIssueOutput(OutputConfig):
    """Close the subject issue."""

    reasons: list[CloseReason] = Field(default_factory=lambda: list(CLOSE_REASONS))
    """State reasons the agent may give."""


class OpenPullRequestOutput(OutputConfig):
    """Open a pull request from the agent's change."""

    labels: list[str] = Field(default_factory=list)
    """Labels put on the pull request."""
    draft: bool = False
    """Open it as a draft."""
    title_prefix: str = ""
    """Prefix added to the pull request's title."""


class ReviewPullRequestOutput(OutputConfig):
    """Review the subject pull request."""

    events: list[ReviewEvent] = Field(default_factory=lambda: list(DEFAULT_REVIEW), min_length=1)
    """Review verdicts the agent may give."""


class MergePullRequestOutput(OutputConfig):
    """Merge the subject pull request (still gated by the policy's risk tiers)."""

    method: Literal["merge", "squash", "rebase"] = "squash"
    """Merge method."""


class SlackReplyOutput(OutputConfig):
    """Post a message in the Slack thread the run came from."""


class SlackPostOutput(OutputConfig):
    """Post a top-level message in the automation's ``slack_channel`` (a digest, not a reply)."""


class SlackReactOutput(OutputConfig):
    """Add an emoji reaction to a message of the run's Slack thread."""

    max: int = Field(default=2, ge=0)
    """How many reactions one run may add."""
    allowed: list[str] | None = None
    """Emoji names the agent may use (None: any)."""


SentryAction = Literal["comment", "resolve", "resolve_in_next_release"]
"""What a ``sentry_update`` may do to the run's Sentry issue."""
DEFAULT_SENTRY_ACTIONS: tuple[SentryAction, ...] = ("comment",)


class SentryUpdateOutput(OutputConfig):
    """Change the run's Sentry issue: comment on it, resolve it (now or in the next release)."""

    max: int = Field(default=2, ge=0)
    """How many Sentry updates one run may make."""
    allowed: list[SentryAction] = Field(
        default_factory=lambda: list(DEFAULT_SENTRY_ACTIONS), min_length=1
    )
    """The actions the agent may ask for: comment, resolve, resolve_in_next_release."""


class ProposeConfigChangeOutput(OutputConfig):
    """Propose a change to the factory's own config (automation YAML, harness documents) as a
    pull request on the factory config repository, labelled needs-human; never merged by the
    factory."""

    labels: list[str] = Field(default_factory=list)
    """Labels put on the proposal besides the policy's needs-human label."""


class Outputs(_Model):
    """Privileged actions the agent may ask for; a kind not listed here is refused."""

    create_issue: CreateIssueOutput | None = None
    """Open new issues."""
    comment: CommentOutput | None = None
    """Comment on the subject."""
    add_labels: LabelsOutput | None = None
    """Add labels to the subject."""
    remove_labels: LabelsOutput | None = None
    """Remove labels from the subject."""
    close_issue: CloseIssueOutput | None = None
    """Close the subject issue."""
    open_pull_request: OpenPullRequestOutput | None = None
    """Open a pull request with the agent's change."""
    review_pull_request: ReviewPullRequestOutput | None = None
    """Review the subject pull request."""
    merge_pull_request: MergePullRequestOutput | None = None
    """Merge the subject pull request."""
    slack_reply: SlackReplyOutput | None = None
    """Reply in the run's Slack thread."""
    slack_react: SlackReactOutput | None = None
    """React to a message of the run's Slack thread."""
    slack_post: SlackPostOutput | None = None
    """Post a message in the automation's ``slack_channel`` (not in a thread)."""
    sentry_update: SentryUpdateOutput | None = None
    """Comment on or resolve the run's Sentry issue."""
    propose_config_change: ProposeConfigChangeOutput | None = None
    """Propose a change to the factory config repository (a needs-human pull request)."""

    @model_validator(mode="before")
    @classmethod
    def _empty_means_defaults(cls, data: Any) -> Any:
        # `comment:` with no value reads as "allowed, with default settings".
        if isinstance(data, dict):
            return {k: ({} if v is None else v) for k, v in data.items()}
        return data

    def kinds(self) -> list[str]:
        """Return the names of the output kinds that are allowed."""
        return [name for name in type(self).model_fields if getattr(self, name) is not None]


def _check_context_entry(entry: str) -> str:
    if entry.startswith("harness/"):
        rel = entry.removeprefix("harness/")
    elif entry.startswith("repo:"):
        rel = entry.removeprefix("repo:")
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


def _check_channel_id(channel: str) -> str:
    if not re.fullmatch(r"[CG][A-Z0-9]{2,}", channel):
        raise ValueError(
            f"slack_channel {channel!r} is not a channel id (C… or G…; copy it from the"
            " channel's details in Slack)"
        )
    return channel


SlackChannelId = Annotated[str, AfterValidator(_check_channel_id)]
"""A Slack channel id (C… public, G… private), not its #name: names change, ids do not."""
RunTrust = Annotated[Trust, AfterValidator(_check_run_trust)]
"""The least trusted person who may start a run: maintainers | collaborators | anyone."""
ContextEntry = Annotated[str, AfterValidator(_check_context_entry)]
"""A prompt document: "harness/PATH" (checked at load) or "repo:PATH" (read at run time)."""
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
    on: list[Trigger] = Field(min_length=1)
    """What starts a run."""
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
    workspace: Literal["none", "default-branch", "pull-request"] = "default-branch"
    """Which checkout a run gets."""
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
        """Return the context entries that name harness documents, in order."""
        return [c for c in self.context if c.startswith("harness/")]


class Automation(AutomationSpec):
    """A loaded automation: the spec plus where it came from and what it hashes to."""

    path: Path
    """The YAML file it was loaded from (as the caller named it)."""
    source_text: str
    """The YAML text."""
    content_hash: str
    """sha256 of the file, the harness documents it includes, and harness/policy.yaml."""
