"""One run, end to end: claim → workspace → session → outputs → record → release.

Three phases (``Runner.claim``, ``work``, ``finish``; their values in runphases.py) that
``Runner.execute`` composes in one process and a DBOS worker runs as workflow steps.
``Runner.execute`` holds the one broad ``except`` of a run: whatever goes wrong is recorded
on the run row (status, error, whether a retry may help) and never escapes into the
worker. Outputs are performed while the session runs, as the agent requests them, through
the output gate (recorded as intent first, idempotent by marker). A failed run that may
succeed on another try (infrastructure, not the model's own verdict) is re-queued with
backoff; every attempt of one (event, automation) shares one idempotency scope, so a
retry finds what an earlier attempt already wrote. A GitHub rate limit is no failure: the
run ends ``interrupted`` and its next attempt is queued for when GitHub said the limit ends.

A full disk (the workspace's or the store's) fails the run with the reason
``no space left on device``. When the store itself cannot write the final status, the
runner keeps trying to finish the row for ``finish_retry_for_s`` (space freed meanwhile, e.g.
by the workspace sweep or a person, lets it through); a row still ``running`` after that, or
when the daemon stops first, is marked ``interrupted`` and re-queued by recovery at the next
start.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from contextlib import ExitStack

import structlog

from factory.agent.session import Session, SessionConfig, sandbox_registry
from factory.agent.tools import ToolRegistry
from factory.config.automation import Automation
from factory.config.templating import EventContext, RepoContext, SubjectContext, SubjectSnapshot
from factory.crashpoints import crashpoint
from factory.daemon.challenge import TOOL as CHALLENGED
from factory.daemon.challenge import ChallengeStage
from factory.daemon.conflicts import conflict_workspace
from factory.daemon.egress_side import with_egress
from factory.daemon.runenv import (
    BUSY_DELAY,
    MAX_BUSY_ATTEMPTS,
    MAX_PAUSED_ATTEMPTS,
    NO_SPACE,
    RunEnv,
    RunState,
    key_scope,
    no_space,
    safe,
)
from factory.daemon.runoutputs import output_gate, run_context
from factory.daemon.runphases import Claimed, Outcome, claim_subject, failure
from factory.daemon.runsetup import (
    context_text,
    prompt_context,
    session_config,
    system_blocks,
)
from factory.daemon.vouch import record_vouches
from factory.errors import StoreError
from factory.events import Event, utcnow
from factory.forge.output_tools import output_tools
from factory.forge.read_tool import github_read_tool
from factory.forge.runs_read import factory_runs_tool
from factory.forge.sentry_read import sentry_read_tool
from factory.forge.slack_channel import slack_channel_tool
from factory.forge.slack_read import slack_read_tool
from factory.interfaces import Sandbox
from factory.logs import redactor
from factory.store import RunRecord
from factory.workspace import Workspace, export_patch
from factory.workspace.pinned import ref_for

log = structlog.get_logger(__name__)


class Runner:
    """Executes started runs (status ``running``) to a final status."""

    def __init__(
        self,
        env: RunEnv,
        *,
        finish_retry_for_s: float = 300.0,
        stopping: threading.Event | None = None,
    ) -> None:
        """Run with ``env``; a final status the store refuses is retried ``finish_retry_for_s``
        seconds, or until ``stopping`` is set (the daemon shuts down: recovery takes over)."""
        self.env = env
        self.finish_retry_for_s = finish_retry_for_s
        self.stopping = stopping or threading.Event()

    def execute(self, run: RunRecord, cancel: threading.Event, automation: Automation) -> str:
        """Run ``run`` with ``automation`` (the version it started with); return its status.

        Never raises: every failure, cleanup included, ends up on the run row or in the log.
        The phases ``claim`` → ``work`` → ``finish``, composed here in one process.
        """
        started = time.monotonic()
        claimed = self.claim(run, automation, cancel)
        return self.finish(run, automation, self.work(claimed), started)

    def claim(self, run: RunRecord, automation: Automation, cancel: threading.Event) -> Claimed:
        """Claim the subject, snapshot it, check approvals; never raises.

        When this phase already decides the run (busy, skipped, an error) the result carries
        that ``outcome`` and its cleanup has run; else it holds the live claim and heartbeat.
        """
        log.info(
            "run_started",
            run_id=run.id,
            automation=run.automation,
            subject=run.subject_key,
            attempt=run.attempt,
        )
        claimed = Claimed(run, automation, cancel)
        try:
            problem = claim_subject(self.env, claimed)
            if problem:
                claimed.outcome = Outcome("skipped", problem)
        except Exception as exc:  # the one broad except of a run (its claim phase)
            claimed.outcome = failure(exc, run, cancel)
        if claimed.outcome is not None:
            claimed.close(claimed.outcome)
        return claimed

    def prepare(self, claimed: Claimed) -> Claimed:
        """The workspace phase (once): workspace, the sandbox's run cgroup, the egress proxy;
        never raises. A failure sets ``claimed.outcome`` and runs the cleanup."""
        if claimed.outcome is not None or claimed.prepared:
            return claimed
        try:
            self._prepare(claimed)
        except Exception as exc:  # the one broad except of a run (its workspace phase)
            claimed.outcome = failure(exc, claimed.run, claimed.cancel)
            claimed.close(claimed.outcome)
        return claimed

    def work(self, claimed: Claimed) -> Outcome:
        """Session (performing its outputs), patch, then the cleanup; the workspace first if
        ``prepare`` has not run. Never raises."""
        if claimed.outcome is not None:
            return claimed.outcome
        outcome = Outcome("failed")
        try:
            if not claimed.prepared:
                self._prepare(claimed)
            status, stop_reason = self._session(claimed)
            outcome = Outcome(status, stop_reason)
            if claimed.state.claim_lost.is_set() and status == "interrupted":
                outcome = Outcome("failed", "claim lost to another holder", retryable=True)
        except Exception as exc:  # the one broad except of a run: record it, decide retry
            outcome = failure(exc, claimed.run, claimed.cancel)
        finally:
            claimed.close(outcome)
        return outcome

    def finish(
        self,
        run: RunRecord,
        automation: Automation,
        outcome: Outcome,
        started: float | None = None,
    ) -> str:
        """Write ``outcome`` as the run's final status (retrying while the store refuses),
        re-queue as it asks; return the status. ``started`` (monotonic) times the run."""
        bound = log.bind(run_id=run.id, automation=run.automation, subject=run.subject_key)
        crashpoint("run_before_finish")
        deadline = time.monotonic() + self.finish_retry_for_s
        delay = 0.25
        while True:
            try:
                record = self._finish(run, automation, outcome)
                break
            except Exception as exc:  # the store failed (disk full, …): try again for a while
                if no_space(exc) and outcome.stop_reason is None and outcome.status != "succeeded":
                    outcome = dataclasses.replace(outcome, stop_reason=NO_SPACE)
                left = deadline - time.monotonic()
                bound.error(
                    "run_finish_failed", error=redactor.scrub(str(exc)), retry_s=max(0.0, left)
                )
                if left <= 0 or self.stopping.wait(min(delay, left)):
                    return outcome.status  # still running: recovery marks it interrupted
                delay = min(delay * 2, 5.0)
        bound.info(
            "run_finished",
            status=record.status,
            stop_reason=record.stop_reason,
            seconds=_seconds(record, started),
            turns=record.turns,
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            cache_read_tokens=record.cache_read_tokens,
            cost_usd=round(record.cost_usd, 6),
        )
        return record.status

    def _finish(self, run: RunRecord, automation: Automation, outcome: Outcome) -> RunRecord:
        store = self.env.store
        status = outcome.status
        try:
            record = store.finish_run(
                run.id,
                status,
                stop_reason=outcome.stop_reason,
                error=outcome.error,
                retryable=outcome.retryable,
            )
        except StoreError:
            current = store.get_run(run.id)
            if current.status == "running":
                raise  # the write itself failed (disk full, lock), not a finished row
            return current  # already finished by shutdown/recovery
        crashpoint("run_after_finish")
        if outcome.busy and record.attempt < MAX_BUSY_ATTEMPTS:
            retry = store.retry_run(record.id, not_before=utcnow() + BUSY_DELAY)
            log.info("run_requeued_busy", run_id=record.id, retry=retry)
        elif outcome.resume_at is not None and record.attempt < MAX_PAUSED_ATTEMPTS:
            retry = store.retry_run(record.id, not_before=outcome.resume_at)
            log.info("run_paused_rate_limit", run_id=record.id, retry=retry)
        elif status == "failed" and outcome.retryable:
            self._maybe_retry(record, automation)
        return record

    def _maybe_retry(self, record: RunRecord, automation: Automation) -> None:
        delay = self.env.retry_delay(automation, record.attempt)
        if delay is None:
            return
        retry_id = self.env.store.retry_run(record.id, not_before=utcnow() + delay)
        log.info("run_retry_queued", run_id=record.id, retry=retry_id, delay_s=delay.seconds)

    def _session(self, claimed: Claimed) -> tuple[str, str | None]:
        env, gh = self.env, self.env.github
        run, automation, cancel = claimed.run, claimed.automation, claimed.cancel
        event, snap = claimed.event, claimed.snap
        config = env.config()
        workspace, sandbox = claimed.workspace, claimed.sandbox
        cfg = session_config(automation)
        registry, names, stage = ToolRegistry(), [], None
        if workspace is not None and sandbox is not None:
            registry = sandbox_registry(sandbox, workspace.path, cfg)
            names = [t for t in automation.tools if t in ("bash", "editor")]
        if "factory_runs" in automation.tools:
            registry.add(factory_runs_tool(env.store, env.config_root, env.secrets))
            names.append("factory_runs")
        if gh is not None:
            if "github_read" in automation.tools:
                registry.add(github_read_tool(gh.github, gh.repo))
                names.append("github_read")
            ctx = run_context(env, run, automation, snap, event, config)
            if "slack_read" in automation.tools and env.slack and ctx.slack:
                registry.add(slack_read_tool(ctx.slack, env.slack.trust_of(config.policy)))
                names.append("slack_read")
            if "slack_channel" in automation.tools and env.slack and ctx.slack:
                registry.add(slack_channel_tool(ctx.slack, env.slack.trust_of(config.policy)))
                names.append("slack_channel")
            if "sentry_read" in automation.tools and ctx.sentry:
                registry.add(sentry_read_tool(ctx.sentry, ctx.secrets))
                names.append("sentry_read")
            gate = output_gate(env, run, automation, workspace, sandbox, snap, config)
            if automation.challenge is not None:
                stage = ChallengeStage(automation.challenge, gate, ctx, env.store)
            for tool in output_tools(gate, ctx):
                tool = stage.draft_tool(tool) if stage and tool.name == CHALLENGED else tool
                registry.add(tool)
                names.append(tool.name)
        cfg = dataclasses.replace(cfg, tools=tuple(names))
        repo_ctx = RepoContext(
            full_name=gh.repo.full_name if gh else "local/repository",
            default_branch=gh.repo.default_branch if gh else "main",
            url=gh.repo.html_url if gh else "",
        )
        event_ctx = EventContext(
            source=event.source if event else "manual",
            kind=event.kind if event else "manual",
            actor=(event.actor or "") if event else "",
            trust=event.trust if event else "maintainers",
            payload=event.payload if event else {},
        )
        pctx = prompt_context(
            automation,
            run_id=run.id,
            attempt=run.attempt,
            subject=snap.context if snap else SubjectContext(),
            event=event_ctx,
            repo=repo_ctx,
        )

        def read_repo_file(path: str) -> str | None:
            if workspace is None or sandbox is None:
                return None
            # Read inside the sandbox: the file may be a symlink planted by a contributor.
            result = sandbox.exec(["cat", "--", path], workspace=workspace.path)
            return result.stdout if result.exit_code == 0 else None

        blocks = system_blocks(automation, config.harness, pctx, read_repo_file)
        task = event.payload.get("task") if event and event.source == "manual" else None

        def new_session(tools: ToolRegistry, session_cfg: SessionConfig) -> Session:
            cost = config.policy.cost_usd
            return Session(
                env.model,
                tools,
                session_cfg,
                env.store,
                run.id,
                lambda usage: cost(automation.model, usage),
                cancel_event=cancel,
            )

        session = new_session(registry, cfg)
        earlier = [
            f"{o.kind}: {o.url or 'done'}"
            for o in env.store.outputs_in_scope(key_scope(run))
            if o.status == "applied" and o.run_id != run.id
        ]
        first = context_text(snap, task if isinstance(task, str) else None, earlier, event)
        result = session.run(blocks, first)
        if stage is not None:  # the challenger: a new session, only the draft as its input
            reads = registry.select([n for n in names if not n.startswith("output_")])
            result = stage.run(result, new_session, reads, cfg, blocks[:-1])
        if gh is not None:
            record_vouches(env.store, run, event, {config.policy.labels.ready})
        staged_pr = gh is not None and automation.run_outputs().staged("open_pull_request")
        if (gh is None or staged_pr) and workspace is not None and sandbox is not None:
            self._save_patch(run, workspace, sandbox)  # a staged PR's would-be change
        return result.status, result.stop_reason

    def _save_patch(self, run: RunRecord, workspace: Workspace, sandbox: Sandbox) -> None:
        """Without GitHub (a local trial), or with a staged open_pull_request, the change is
        kept as a patch file and a step."""
        patch = export_patch(workspace, sandbox)
        folder = self.env.data_dir / "patches"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{run.id}.patch"
        path.write_bytes(patch)
        self.env.store.add_step(
            run.id,
            "patch",
            {"path": str(path), "bytes": len(patch)},
            text=patch.decode("utf-8", errors="replace")[:100_000],
        )

    def _prepare(self, claimed: Claimed) -> None:
        run, automation, cleanup = claimed.run, claimed.automation, claimed.cleanup
        workspace, sandbox = self._workspace(
            run, automation, claimed.snap, claimed.event, cleanup, claimed.state
        )
        workspace = conflict_workspace(workspace, claimed.event)  # a conflict's run: the merge
        egress = self.env.config().policy.egress
        sandbox = with_egress(sandbox, automation.sandbox, egress, self.env.store, run.id, cleanup)
        claimed.workspace, claimed.sandbox, claimed.prepared = workspace, sandbox, True
        crashpoint("run_after_workspace")

    def _workspace(
        self,
        run: RunRecord,
        automation: Automation,
        snap: SubjectSnapshot | None,
        event: Event | None,
        cleanup: ExitStack,
        state: RunState,
    ) -> tuple[Workspace | None, Sandbox | None]:
        workspaces = self.env.workspaces
        if automation.workspace == "none" or workspaces is None:
            return None, None
        sandbox = self.env.sandbox_for(automation.sandbox.backend)
        number = snap.context.number if snap else None
        workspaces.mirror.fetch()
        disk_mb = automation.sandbox.disk or self.env.config().policy.sandbox.disk
        ref = ref_for(automation.workspace, number, event)  # merge-commit: the event's sha
        workspace = workspaces.prepare(run.id, ref, disk_mb=disk_mb)
        # Released after the run, kept for a while when it did not succeed.
        cleanup.callback(
            safe(
                lambda: workspaces.release(workspace, failed=state.failed),
                "workspace_release",
                run.id,
            )
        )
        sandbox.open_run(workspace.path)  # a root daemon's pids cgroup, once per run
        cleanup.callback(safe(lambda: sandbox.close_run(workspace.path), "sandbox_close", run.id))
        return workspace, sandbox


def _seconds(record: RunRecord, started: float | None) -> float | None:
    """How long the run took: by the monotonic clock in one process, else (a run whose steps
    ran on DBOS, perhaps on two workers) from the row's started and finished times."""
    if started is not None:
        return round(time.monotonic() - started, 3)
    if record.started_at is None or record.finished_at is None:
        return None
    return round((record.finished_at - record.started_at).total_seconds(), 3)
