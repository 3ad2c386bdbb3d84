"""What starts an automation's run: the ``on:`` list, each item exactly one trigger kind."""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from factory.config.durations import Duration, PositiveDuration
from factory.events import Event, as_utc

GITHUB_EVENTS: frozenset[str] = frozenset(
    {
        "check_run",
        "check_suite",
        "create",
        "delete",
        "deployment_status",
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

MERGE_EVENTS = frozenset({"push", "deployment_status"})
"""The events a ``merges_factory_pr`` trigger may name."""

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
    with_labels: list[str] = Field(default_factory=list)
    """Only when the event's issue or pull request carries all of these labels."""
    without_labels: list[str] = Field(default_factory=list)
    """Not when the event's issue or pull request carries any of these labels (e.g. bug)."""
    conclusion: list[str] | None = None
    """check_run / check_suite only: match only these conclusions (e.g. [failure, timed_out])."""
    review_state: str | None = None
    """pull_request_review only: match only reviews in this state (e.g. changes_requested)."""
    head_branch: str | None = None
    """Only when the pull request's (or check's) head branch matches this glob (factory/*)."""
    merges_factory_pr: bool = False
    """``push``/``deployment_status`` only: fire only on the daemon's event about the merged
    pull request the factory opened (its subject is that pull request; see
    ``factory.daemon.merge_events``)."""

    @field_validator("event")
    @classmethod
    def _known_event(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z_]+(\.[a-z_]+)?", value):
            raise ValueError(f"event {value!r} must look like 'issues.labeled' or 'push'")
        name = value.split(".", 1)[0]
        if name not in GITHUB_EVENTS:
            raise ValueError(f"unknown GitHub event {name!r}")
        return value

    def payload_fits(self, payload: dict[str, Any]) -> bool:
        """True when ``payload`` passes ``conclusion``, ``review_state`` and ``head_branch``."""
        name = self.webhook_event
        check = payload.get(name) if name in ("check_run", "check_suite") else None
        check = check if isinstance(check, dict) else {}
        if self.conclusion is not None and check.get("conclusion") not in self.conclusion:
            return False
        review = payload.get("review")
        state = review.get("state") if isinstance(review, dict) else None
        if self.review_state is not None and str(state).lower() != self.review_state.lower():
            return False
        if self.head_branch is None:
            return True
        pull = payload.get("pull_request")
        head = pull.get("head") if isinstance(pull, dict) else None
        suite = check.get("check_suite")
        suite = suite if isinstance(suite, dict) else check
        branch = head.get("ref") if isinstance(head, dict) else suite.get("head_branch")
        return isinstance(branch, str) and fnmatch.fnmatchcase(branch, self.head_branch)

    @model_validator(mode="after")
    def _merges_on_merge_events(self) -> GithubTrigger:
        if self.merges_factory_pr and self.webhook_event not in MERGE_EVENTS:
            raise ValueError("merges_factory_pr applies only to push and deployment_status")
        return self

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
    stale_for: Duration = 0
    """Only subjects that made no progress for this long, e.g. "6h" (a pull request: no head
    push, review or finished check; an issue: no update); 0 selects regardless."""


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
    when_empty: Literal["skip", "run"] = "skip"
    """With ``select``: what a tick that selects nothing does: ``skip`` (no run) or ``run``
    (one run without a subject, e.g. the planner filing work when the backlog is empty)."""

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
        if self.when_empty == "run" and self.select is None:
            raise ValueError("'when_empty: run' needs a 'select' (without one every tick runs)")
        return self


SentryLevel = Literal["debug", "info", "warning", "error", "fatal"]
"""Sentry's levels."""
SENTRY_LEVELS: tuple[SentryLevel, ...] = ("debug", "info", "warning", "error", "fatal")
"""Sentry's levels, least severe first."""
SentryAction = Literal[
    "created", "unresolved", "resolved", "ignored", "assigned", "triggered", "error", "seen"
]
"""What happened to a Sentry issue: an ``issue`` webhook action, ``triggered`` (an issue
alert rule fired), ``error`` (one error event), ``seen`` (the poller saw it change)."""


def _default_levels() -> list[SentryLevel]:
    return ["error", "warning"]


def _default_actions() -> list[SentryAction]:
    return ["created", "unresolved", "triggered", "seen"]


def _action_of(kind: str) -> str | None:
    """Return the SentryAction of a Sentry event kind ("sentry.issue.created" → created)."""
    if kind.startswith("sentry.issue."):
        return kind.removeprefix("sentry.issue.")
    return {"sentry.event_alert": "triggered", "sentry.error": "error"}.get(kind)


class SentryTrigger(_Model):
    """A Sentry issue that is new, regressed or alerted on, and passes the gates below —
    like Sentry's own autofix thresholds, so one noisy error does not start ten runs."""

    level: list[SentryLevel] = Field(default_factory=_default_levels, min_length=1)
    """Levels that fire, e.g. [error, warning]; a single level ("warning") means that level
    and every more severe one."""
    project: str | None = None
    """Only this Sentry project slug."""
    environment: str | None = None
    """Only this environment, e.g. "production". Issue webhooks and issue listings carry no
    environment: with this set, only events that name one (``event_alert``, ``error``) fire."""
    min_events: int = Field(default=0, ge=0)
    """Only an issue with at least this many events (Sentry's ``count``)."""
    min_users: int = Field(default=0, ge=0)
    """Only an issue that affected at least this many users (Sentry's ``userCount``)."""
    min_age: Duration = 0
    """Only an issue first seen at least this long ago, e.g. "1h" (0: no minimum)."""
    actions: list[SentryAction] = Field(default_factory=_default_actions, min_length=1)
    """What fires: a new issue, a regression, an alert rule, and ``seen`` — a polled change
    that carries the issue across ``min_events`` / ``min_users`` / ``min_age`` for the first
    time (never fires without such a gate: the issue's creation already did)."""

    @field_validator("level", mode="before")
    @classmethod
    def _level_and_above(cls, value: Any) -> Any:
        if isinstance(value, str) and value in SENTRY_LEVELS:
            return list(SENTRY_LEVELS[SENTRY_LEVELS.index(value) :])
        return value

    def matches(self, event: Event) -> bool:
        """True when the Sentry ``event`` fires this trigger: its action is one of
        ``actions``, its level, project and environment fit, and the issue passes the
        count and age gates (a ``seen`` event: passes them now and did not at the previous
        sight). An ``event_alert`` carries no counts: Sentry's alert rule is its threshold."""
        action = _action_of(event.kind)
        payload = event.payload
        if event.source != "sentry" or action not in self.actions:
            return False
        if str(payload.get("level") or "error") not in self.level:
            return False
        if self.project is not None and payload.get("project") != self.project:
            return False
        if self.environment is not None and payload.get("environment") != self.environment:
            return False
        exempt = action == "triggered"
        now = event.received_at
        if not self._passes(payload, payload.get("count"), payload.get("user_count"), now, exempt):
            return False
        if action != "seen":
            return True
        previous = payload.get("previous")
        if not isinstance(previous, dict) or not self._gated:
            return False
        then = _time(previous.get("polled_at")) or now
        return not self._passes(
            payload, previous.get("count"), previous.get("user_count"), then, False
        )

    @property
    def _gated(self) -> bool:
        return bool(self.min_events or self.min_users or self.min_age)

    def _passes(
        self, payload: dict[str, Any], count: Any, users: Any, now: datetime, exempt: bool
    ) -> bool:
        """True when ``count``, ``users`` and the age at ``now`` pass the gates; unknown
        values pass only when ``exempt``."""
        for value, minimum in ((count, self.min_events), (users, self.min_users)):
            if minimum and not (exempt if not isinstance(value, int) else value >= minimum):
                return False
        if self.min_age:
            first = _time(payload.get("first_seen"))
            if first is None:
                return exempt
            return (now - first).total_seconds() >= self.min_age
        return True


def _time(value: Any) -> datetime | None:
    """Return an ISO time Sentry wrote ("2019-08-19T20:58:37.391000Z") as UTC, or None."""
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


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
