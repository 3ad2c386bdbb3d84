"""What starts an automation's run: the ``on:`` list, each item exactly one trigger kind."""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from factory.config.durations import Duration, PositiveDuration

GITHUB_EVENTS: frozenset[str] = frozenset(
    {
        "check_run",
        "check_suite",
        "create",
        "delete",
        "discussion",
        "discussion_comment",
        "issue_comment",
        "issues",
        "label",
        "milestone",
        "pull_request",
        "pull_request_review",
        "pull_request_review_comment",
        "pull_request_review_thread",
        "push",
        "release",
        "status",
        "workflow_dispatch",
        "workflow_job",
        "workflow_run",
    }
)
"""GitHub webhook event names a ``github`` trigger may name (before the ``.action``)."""

TRIGGER_KINDS = ("github", "schedule", "sentry", "slack", "manual")
"""The keys of a trigger; each ``on:`` item has exactly one."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GithubTrigger(_Model):
    """A GitHub webhook (or polled) event."""

    event: str
    """"<webhook event>.<action>" such as "issues.labeled", or just "<webhook event>"."""
    label: str | None = None
    """Only when this label was the one added/removed (for *.labeled / *.unlabeled)."""
    branch: str | None = None
    """Only for this branch (glob): a push's branch or a pull request's base branch."""
    draft: bool | None = None
    """Pull requests only: match only drafts (true) or only non-drafts (false)."""
    include_factory: bool = False
    """Also fire on events caused by the factory's own writes (off: no self-trigger loops)."""

    @field_validator("event")
    @classmethod
    def _known_event(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z_]+(\.[a-z_]+)?", value):
            raise ValueError(f"event {value!r} must look like 'issues.labeled' or 'push'")
        name = value.split(".", 1)[0]
        if name not in GITHUB_EVENTS:
            raise ValueError(f"unknown GitHub event {name!r}")
        return value

    @property
    def webhook_event(self) -> str:
        """The webhook event name, e.g. "issues"."""
        return self.event.split(".", 1)[0]

    @property
    def action(self) -> str | None:
        """The action after the dot, e.g. "labeled"; None matches every action."""
        return self.event.split(".", 1)[1] if "." in self.event else None


class Select(_Model):
    """For schedule sweeps: which open subjects each tick runs on."""

    state: Literal["open", "closed", "all"] = "open"
    """Issue/pull request state to select."""
    labels: list[str] = Field(default_factory=list)
    """Subjects must carry all of these labels."""
    exclude_labels: list[str] = Field(default_factory=list)
    """Subjects carrying any of these labels are passed over (e.g. blocked, needs-human)."""
    limit: int = Field(default=10, ge=1, le=100)
    """At most this many subjects per tick."""
    kind: Literal["issue", "pull_request"] = "issue"
    """Select issues or pull requests."""


class ScheduleTrigger(_Model):
    """A timer: ``every`` an interval, or on a ``cron`` expression in ``timezone``."""

    every: PositiveDuration | None = None
    """Interval between runs, e.g. "30m"."""
    cron: str | None = None
    """Five-field cron expression, e.g. "*/30 * * * *"."""
    timezone: str = "UTC"
    """IANA timezone the cron expression is read in."""
    jitter: Duration = 0
    """Random delay added to each tick, spreading load."""
    select: Select | None = None
    """If given, each tick runs once per selected subject instead of once without subject."""

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None and (len(value.split()) != 5 or not croniter.is_valid(value)):
            raise ValueError(f"invalid cron expression {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _every_or_cron(self) -> ScheduleTrigger:
        if (self.every is None) == (self.cron is None):
            raise ValueError("a schedule needs exactly one of 'every' or 'cron'")
        return self


class SentryTrigger(_Model):
    """A Sentry issue alert."""

    level: Literal["debug", "info", "warning", "error", "fatal"] = "error"
    """Minimum level of the event."""
    project: str | None = None
    """Only this Sentry project slug."""
    environment: str | None = None
    """Only this environment, e.g. "production"."""


class SlackTrigger(_Model):
    """A Slack message to the bot: a mention in a channel the policy lists, or a DM."""

    channel: str | None = None
    """Only this channel, by id (``C…``, ``G…``, or ``D…`` for a DM): Slack's events carry
    ids, not names, so a name would never match. None: any channel the policy lists."""
    mention: bool = True
    """Only messages addressed to the bot (a mention, or a direct message); the only kind
    the Slack source takes, so false is refused rather than silently meaning the same."""

    @field_validator("channel")
    @classmethod
    def _channel_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[CGD][A-Z0-9]{2,}", value):
            raise ValueError(
                f"slack channel {value!r} is not a channel id (C…, G… or D…; copy it from"
                " the channel's details in Slack)"
            )
        return value

    @field_validator("mention")
    @classmethod
    def _mention_only(cls, value: bool) -> bool:
        if not value:
            raise ValueError(
                "slack triggers fire on messages to the bot only: mention: false is not supported"
            )
        return value


class ManualTrigger(_Model):
    """Started by hand (``factoryd run`` or the viewer)."""


class Trigger(_Model):
    """One item of ``on:``; exactly one of its fields is set."""

    github: GithubTrigger | None = None
    """A GitHub event."""
    schedule: ScheduleTrigger | None = None
    """A timer."""
    sentry: SentryTrigger | None = None
    """A Sentry alert."""
    slack: SlackTrigger | None = None
    """A Slack message."""
    manual: ManualTrigger | None = None
    """Started by hand."""

    @model_validator(mode="before")
    @classmethod
    def _empty_means_defaults(cls, data: Any) -> Any:
        # `- manual:` (null) reads as `- manual: {}`.
        if isinstance(data, dict):
            return {k: ({} if v is None and k in TRIGGER_KINDS else v) for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        kinds = [k for k in TRIGGER_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = f" (found: {', '.join(kinds)})" if kinds else ""
            raise ValueError(f"a trigger needs exactly one of {', '.join(TRIGGER_KINDS)}{found}")
        return self

    @property
    def kind(self) -> str:
        """The trigger's kind: github, schedule, sentry, slack or manual."""
        return next(k for k in TRIGGER_KINDS if getattr(self, k) is not None)
