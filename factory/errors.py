"""Every exception factoryd raises on purpose, in one place.

Each message names the id (file, run, automation, subject) it is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


class FactoryError(Exception):
    """Base class of every error factoryd raises on purpose."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in one configuration file, at a 1-based line and column."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class ConfigError(FactoryError):
    """One or more configuration files are invalid; carries every issue found."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, i.col, i.message))
        super().__init__("\n".join(str(i) for i in self.issues))


class StoreError(FactoryError):
    """The run store cannot be opened, migrated or written."""


class RunNotFound(StoreError):
    """No run with the given id exists in the store."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id!r} not found")


class StepNotFound(StoreError):
    """The run has no step with the given sequence number."""

    def __init__(self, run_id: str, seq: int) -> None:
        self.run_id = run_id
        self.seq = seq
        super().__init__(f"run {run_id!r} has no step {seq}")


class DuplicateRun(StoreError):
    """A run for this event, automation and attempt already exists; carries its id."""

    def __init__(self, run_id: str, event_id: int, automation: str, attempt: int) -> None:
        self.run_id = run_id
        super().__init__(
            f"event {event_id} already has run {run_id!r} for automation {automation!r}"
            f" attempt {attempt}"
        )


class SandboxUnavailable(FactoryError):
    """The sandbox backend cannot start; runs fail closed. The message says how to fix it."""


class SandboxError(FactoryError):
    """A command could not be run in the sandbox (not: the command failed)."""


class WorkspaceError(FactoryError):
    """A workspace could not be prepared, or its change could not be exported."""


class ModelError(FactoryError):
    """The model call failed after the retries it was allowed."""

    retryable: bool = True


class SpendLimitReached(ModelError):
    """The model provider refused the call for spend/billing limits; never retried."""

    retryable = False


class SessionStop(FactoryError):
    """Base of the typed exceptions that end an agent session's loop."""

    status: str = "failed"


class Submitted(SessionStop):
    """The model finished: it ended its turn without asking for a tool."""

    status = "succeeded"


class LimitsExceeded(SessionStop):
    """A hard budget (turns, USD, wall time) was crossed; the run fails with this reason."""


class LoopDetected(LimitsExceeded):
    """The same tool call with the same input was repeated too many times."""


class Cancelled(SessionStop):
    """The session was cancelled from outside (shutdown, user)."""

    status = "interrupted"


class ForgeError(FactoryError):
    """A GitHub operation failed in a way the caller must handle."""


class ClaimLost(ForgeError):
    """A claim on a subject is held by someone else, or was lost while running."""


class OutputRefused(ForgeError):
    """An output request was refused by the automation's outputs or the policy; says why."""


class OutputFailed(ForgeError):
    """The service an output writes to (Slack) refused it; the message names the kind, run
    and the service's error code."""


class ImageRefused(ForgeError):
    """An image in a Slack thread was not fetched for the model; the message names the file
    and says why (told to the model, never raised out of the slack_read tool)."""


class PatchRefused(ForgeError):
    """An agent's patch breaks policy (protected path, size, binary, symlink); says why."""


class GitError(FactoryError):
    """A git command the daemon itself ran failed; carries the command's exit code and stderr."""

    def __init__(self, what: str, returncode: int, stderr: str) -> None:
        self.what = what
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(f"git {what} failed with exit code {returncode}: {stderr.strip()[-2000:]}")


class UnknownTool(FactoryError):
    """A tool name is not in the tool registry."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(f"unknown tool {name!r}; known tools: {', '.join(known) or 'none'}")


class ModelNotPriced(FactoryError):
    """A model has no price in harness/policy.yaml, so its cost cannot be computed."""

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(f"model {model!r} has no price in harness/policy.yaml")


class DaemonAlreadyRunning(FactoryError):
    """Another factoryd holds the data directory's lock."""


class SubjectBusy(ForgeError):
    """Another holder claims the run's subject; the run is re-queued to try again later."""


class StartRefused(FactoryError):
    """``factoryd start`` found problems; carries every one of them, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class ModelRequestRejected(ModelError):
    """The API rejected the request itself (a 4xx such as 400, 401, 404, 413 request_too_large).

    Sending the same request again would fail the same way, so the run is not retried as is.
    """

    retryable = False


class Refused(SessionStop):
    """The model refused to go on (stop reason ``refusal``); the run fails with this reason."""


class ContextWindowExceeded(LimitsExceeded):
    """The conversation filled the model's context window (``model_context_window_exceeded``)."""


class GitHubRateLimited(ForgeError):
    """GitHub refused a request for rate limits for longer than the client waits.

    Not a failure of the run: a later attempt, after ``resume_at``, may succeed, so the run
    is paused and re-queued for then. Carries the request, the wait GitHub asked for and the
    rate-limit resource (``core``, ``search``, or None for a secondary limit).
    """

    retryable: bool = True

    def __init__(self, request: str, wait_s: float, resource: str | None = None) -> None:
        self.request = request
        self.wait_s = wait_s
        self.resource = resource
        self.resume_at = datetime.now(UTC) + timedelta(seconds=wait_s)
        limit = f"rate limit ({resource})" if resource else "secondary rate limit"
        super().__init__(f"{request} refused by GitHub's {limit}: retry in {wait_s:.0f} s")


class SentryError(FactoryError):
    """Sentry's REST API refused or failed a request; carries the path, status and ``detail``.

    ``issue_id`` names the Sentry issue the request was about, when it was about one;
    ``retry_after`` is the wait Sentry asked for when it refused for rate limits.
    """

    def __init__(
        self,
        path: str,
        status: int,
        detail: str,
        *,
        issue_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.path = path
        self.status = status
        self.detail = detail
        self.issue_id = issue_id
        self.retry_after = retry_after
        about = f" (Sentry issue {issue_id})" if issue_id else ""
        super().__init__(f"Sentry {path}{about} answered {status}: {detail}")


class InitRefused(FactoryError):
    """``factoryd init`` will not write into a directory that exists and is not empty."""

    def __init__(self, directory: str, reason: str) -> None:
        self.directory = directory
        super().__init__(f"{directory}: {reason}")
