"""The ``outputs:`` section of an automation: each privileged action the agent may ask
for, with its quota and limits (``factory.config.automation`` holds the rest of the schema).
A kind not listed is refused; ``staged`` on a kind records its requests as *would have*."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StrictModel(BaseModel):
    """Base of the configuration models: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


CloseReason = Literal["completed", "not_planned"]
ReviewEvent = Literal["COMMENT", "APPROVE", "REQUEST_CHANGES"]
CLOSE_REASONS: tuple[CloseReason, ...] = ("completed", "not_planned")
DEFAULT_REVIEW: tuple[ReviewEvent, ...] = ("COMMENT",)


class OutputConfig(StrictModel):
    """Settings every output kind has."""

    max: int = Field(default=1, ge=0)
    """How many times one run may perform this output."""
    staged: bool = False
    """Record each request of this kind as *would have* (status ``staged``) and perform none."""


class CreateIssueOutput(OutputConfig):
    """Open new issues."""

    labels: list[str] = Field(default_factory=list)
    """Labels put on every created issue."""
    title_prefix: str = ""
    """Prefix added to each created issue's title."""
    sub_issues: bool = False
    """Let a request name a ``parent`` (the run's subject or an issue the run created): the
    daemon links the new issue under it with GitHub's sub-issues API."""


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
    require_failing_test: bool = False
    """The daemon checks the change reproduces its bug: the policy's ``tests.command`` must
    fail with only the change's test files on the base, and pass with the whole change."""


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


class PushToPullRequestOutput(OutputConfig):
    """Push the agent's change onto the subject pull request's own branch; only a ``factory/``
    branch the factory opened in this repository (see ``factory.forge.pr_push``)."""

    max_attempts_per_head: int = Field(default=3, ge=1)
    """Pushes tried on one head commit of the pull request before it goes to a human."""
    max_attempts_per_pr: int = Field(default=6, ge=1)
    """Pushes tried on one pull request in all before it goes to a human."""


class RevertPullRequestOutput(OutputConfig):
    """Revert a merged pull request: the daemon makes the revert with git and opens it as a
    pull request (risk-tiered; never merged by the factory unless the policy's
    ``verifier.auto_merge`` says so). The policy's ``verifier:`` section decides which."""

    labels: list[str] = Field(default_factory=list)
    """Labels put on the revert pull request."""


class Outputs(StrictModel):
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
    push_to_pull_request: PushToPullRequestOutput | None = None
    """Push the agent's change onto the subject pull request (factory branches only)."""
    revert_pull_request: RevertPullRequestOutput | None = None
    """Open a pull request reverting a merged pull request (made by the daemon with git)."""

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

    def staged(self, kind: str) -> bool:
        """True when requests of ``kind`` are recorded as would-have and not performed."""
        config = getattr(self, kind, None)
        return isinstance(config, OutputConfig) and config.staged

    def all_staged(self) -> Outputs:
        """Return a copy in which every allowed kind is staged."""
        update = {k: getattr(self, k).model_copy(update={"staged": True}) for k in self.kinds()}
        return self.model_copy(update=update)
