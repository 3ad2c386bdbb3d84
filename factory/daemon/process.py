"""The daemon: wiring of scheduler, event sources, dispatcher, workers and the HTTP port.

Lifecycle: ``start()`` loads and checks everything (refusing to start with the full list of
what is missing or invalid), takes the data directory's lock, recovers, then starts the
threads; ``serve_forever()`` runs the dispatch loop in the main thread until SIGTERM/SIGINT;
``shutdown()`` stops taking work, cancels sessions, kills sandboxes, marks what did not
finish ``interrupted`` and re-queues it, all within a few seconds. A second signal exits at
once. Recovery at start: see factory/daemon/recovery.py. Kept workspaces of failed runs are
swept at start and every ``sweep_interval_s`` while running.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import FrameType
from typing import IO, Any

import structlog

from factory import __version__
from factory.config.automation import Automation
from factory.config.reload import ConfigWatcher
from factory.daemon.diskwait import disk_low, disk_report
from factory.daemon.dispatch import Dispatcher, enqueue_manual
from factory.daemon.executor import Active, Executor, InProcessExecutor
from factory.daemon.followup import Followup
from factory.daemon.hooks import hook_dispatcher
from factory.daemon.recovery import recover, requeue
from factory.daemon.runenv import GitHubSide, RunEnv
from factory.daemon.runner import Runner
from factory.daemon.sentry_side import sentry_client, sentry_loop, sentry_poller, sentry_routes
from factory.daemon.server import HttpServer, build_daemon_app, health_route, webhook_route
from factory.daemon.slack_side import slack_parts, slack_routes, start_socket_mode
from factory.daemon.wiring import (
    Sandboxes,
    ensure_factory_labels,
    github_side,
    instance_id,
    probe_bwrap,
    select_subjects,
    take_lock,
    workspaces_for,
)
from factory.errors import ConfigError, SandboxUnavailable, StartRefused, StoreError
from factory.events import Subject
from factory.interfaces import Model
from factory.logs import redactor
from factory.settings import Settings
from factory.sources.github_poller import GitHubPoller
from factory.sources.schedule import Schedules
from factory.sources.slack import SlackSource
from factory.store import RunRecord, RunStore
from factory.store.watch import watch_for_work

log = structlog.get_logger(__name__)

DRAIN_S = 5.0
"""How long shutdown waits for cancelled runs to record their end before marking them."""
SWEEP_INTERVAL_S = 600.0
"""How often kept workspaces of failed runs are checked and removed once their time is up."""


@dataclass
class Daemon:
    """One factoryd process."""

    settings: Settings
    model: Model | None = None
    """Injected model (tests, demo); default: the Anthropic adapter from settings."""
    github: GitHubSide | None = None
    """Injected GitHub side; default: built from settings."""
    background: bool = True
    """Run the scheduler, reloader, poller and HTTP port; False for one in-process run."""
    active: dict[str, Active] = field(default_factory=dict)
    executor: Executor | None = None
    """How started runs execute; default: threads of this process (InProcessExecutor)."""
    sweep_interval_s: float = SWEEP_INTERVAL_S

    def __post_init__(self) -> None:
        self.data_dir = Path(self.settings.data_dir)
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.started_at = time.monotonic()
        self.sandboxes = Sandboxes()
        self.http: HttpServer | None = None
        self.slack: SlackSource | None = None
        self.followup: Followup | None = None
        self._lock_file: IO[str] | None = None
        self._threads: list[threading.Thread] = []
        self._signals = 0

    # -- start -----------------------------------------------------------------------

    def start(self) -> None:
        """Load, check, lock, recover and start every thread.

        Raises StartRefused listing every problem found (invalid automations or harness as
        FILE:LINE:COL, missing settings, a sandbox that cannot start), DaemonAlreadyRunning,
        or what GitHub raises when unreachable.
        """
        settings = self.settings
        self._preflight()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = take_lock(self.data_dir)
        redactor.add(settings.secret_values())
        secrets = tuple(settings.secret_values())
        policy = lambda: self.watcher.config.policy  # noqa: E731
        self.instance = instance_id(self.data_dir)
        self.store = RunStore.open(settings.store_location)
        if self.model is None:
            from factory.daemon.wiring import make_model

            self.model = make_model(settings)
        if self.github is None:
            self.github = github_side(settings, self.watcher.config.policy, self.data_dir)
        ensure_factory_labels(self.github.repo, self.watcher.config.policy)
        self.dispatcher = Dispatcher(
            self.store, lambda: self.watcher.config, global_concurrency=settings.concurrency
        )
        self.slack, slack, self.followup = slack_parts(
            settings, self.store, policy, self.wake.set, self.github.repo
        )
        sentry = sentry_client(settings)
        self.sentry_loop = sentry_loop(settings, self.store, self.github, sentry, policy)
        hook_dispatcher(
            self.dispatcher,
            self.store,
            self.github,
            policy,
            secrets,
            self.followup.absorb if self.followup else None,
            self.sentry_loop.absorb,
        )
        self.env = RunEnv(
            store=self.store,
            config=lambda: self.watcher.config,
            model=self.model,
            sandbox_for=self.sandboxes,
            data_dir=self.data_dir,
            holder=self.instance,
            github=self.github,
            workspaces=workspaces_for(self.github, settings),
            slack=slack,
            sentry=sentry,
            secrets=secrets,
            config_root=settings.config_root,
            retry_delay=self.dispatcher.retry_delay,
        )
        self.runner = Runner(self.env, stopping=self.stopping)
        self.executor = self.executor or InProcessExecutor(self.runner, self.active, self.wake)
        self.recover()
        self.schedules = Schedules(
            self.store, find=partial(select_subjects, self.github), on_stored=self.wake.set
        )
        if self.background:
            self._start_background()
        log.info(
            "daemon_started",
            version=__version__,
            instance=self.instance,
            automations=sorted(self.watcher.config.automations),
            port=self.http.port if self.http else None,
        )

    def _start_background(self) -> None:
        settings, github = self.settings, self.github
        assert github is not None
        self.schedules.sync(self.watcher.config)
        self.schedules.start()
        self._thread("reload", self.watcher.run)
        self._thread("sweeper", self._sweep_loop)
        self._thread("store-watch", partial(watch_for_work, self.store, self.wake))
        if settings.poll_interval_s > 0:
            poller = GitHubPoller(
                github.repo,
                self.store,
                self.data_dir / "github-poll-cursor.json",
                every_s=settings.poll_interval_s,
                trust_resolver=github.resolve,
                trust_policy=github.trust,
                bot_logins=[github.bot_login] if github.bot_login else [],
                on_stored=self.wake.set,
            )
            self._thread("poller", poller.run)
        if sentry := sentry_poller(settings, self.store, self.data_dir, self.wake.set):
            self._thread("sentry-poller", sentry.run)
        start_socket_mode(self.slack, settings)
        self.http = HttpServer(self._app(), settings.host, settings.port)
        self.http.start()

    def _sweep_loop(self, stop: threading.Event) -> None:
        """Remove kept workspaces whose time is up, every ``sweep_interval_s``, until ``stop``."""
        while self.env.workspaces is not None and not stop.wait(self.sweep_interval_s):
            try:
                self.env.workspaces.sweep()
            except Exception:  # the sweeper must keep sweeping; the error is logged
                log.exception("workspace_sweep_failed")

    def _preflight(self) -> None:
        """Load the config and check what ``start`` needs; raise StartRefused with it all."""
        settings = self.settings
        problems: list[str] = []
        try:
            self.watcher = ConfigWatcher(
                settings.automations_dir, settings.harness_dir, on_change=self._config_changed
            )
        except ConfigError as exc:
            problems += [str(issue) for issue in exc.issues]
        if not (self.model and self.github):
            problems += [f"missing setting: {name}" for name in settings.missing_for_start()]
        if not problems and any(
            a.sandbox.backend == "bwrap" for a in self.watcher.config.automations.values()
        ):
            try:
                probe_bwrap()
            except SandboxUnavailable as exc:
                problems.append(f"sandbox: {exc}")
        if problems:
            raise StartRefused(problems)

    def _thread(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, args=(self.stopping,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _config_changed(self, config: Any) -> None:
        self.schedules.sync(config)
        self.wake.set()

    def _app(self) -> Any:
        from factory.web.app import build_app

        gh = self.github
        assert gh is not None
        viewer_store = RunStore.open(self.settings.store_location, readonly=True)
        token = self.settings.viewer_token
        viewer = build_app(
            viewer_store,
            automations_dir=self.settings.automations_dir,
            harness_dir=self.settings.harness_dir,
            enqueue_manual=lambda name: self.enqueue_manual(name),
            disk_status=lambda: disk_report(self.env, self.watcher.config),
            token=token.get_secret_value() if token else None,
        )
        routes = [
            health_route(
                self.health,
                host=self.settings.host,
                token=token.get_secret_value() if token else None,
            ),
            webhook_route(self.store, self.settings.github_webhook_secret, gh, self.wake.set),
            *slack_routes(self.slack, self.settings),
            *sentry_routes(self.settings, self.store, self.wake.set),
        ]
        return build_daemon_app(routes, viewer)

    # -- recovery --------------------------------------------------------------------

    def recover(self) -> None:
        """Interrupt runs a crash left running, release their claims, settle outputs, re-queue."""
        recover(self.store, self.github, self.instance, self.watcher.config, self.env)

    # -- the loop --------------------------------------------------------------------

    def tick(self) -> None:
        """Dispatch stored events, then start every run the limits allow."""
        self.dispatcher.dispatch_pending()
        if self.followup is not None:
            self.followup.perform_pending()
        self.sentry_loop.perform_pending()
        while not self.stopping.is_set() and not disk_low(self.env, self.watcher.config):
            running = self.store.list_runs(status="running", limit=1000)
            found = self.dispatcher.runnable(running)
            if found is None:
                return
            run, automation = found
            refusal = self.dispatcher.budget_refusal(automation)
            if refusal is not None:  # spent since the run was queued
                self.store.finish_run(run.id, "skipped", stop_reason=refusal)
                continue
            record = self.store.start_run(
                run.id, self.instance, version=(automation.content_hash, automation.source_text)
            )
            self._launch(record, automation)

    def _launch(self, run: RunRecord, automation: Automation) -> None:
        assert self.executor is not None
        self.executor.launch(run, automation)

    def serve_forever(self) -> None:
        """Run the dispatch loop until SIGTERM/SIGINT asks to stop; then shut down."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.run_loop()

    def run_loop(self) -> None:
        """Run the dispatch loop until ``stopping`` is set; then shut down."""
        try:
            while not self.stopping.is_set():
                try:
                    self.tick()
                except Exception as exc:  # the loop must outlive one bad tick (store busy, …)
                    log.exception("tick_failed", error=redactor.scrub(str(exc)))
                self.wake.wait(1.0)
                self.wake.clear()
        finally:
            self.shutdown()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals > 1:
            os._exit(128 + signum)  # second signal: leave at once
        log.info("daemon_stopping", signal=signal.Signals(signum).name)
        self.stopping.set()
        self.wake.set()

    def shutdown(self) -> None:
        """Stop taking work, cancel runs, kill sandboxes, mark and re-queue the unfinished."""
        self.stopping.set()
        if hasattr(self, "schedules"):
            self.schedules.shutdown()
        if self.slack is not None:
            self.slack.stop()
        active = list(self.active.values())
        for item in active:
            item.cancel.set()
        self.sandboxes.kill_all()
        deadline = time.monotonic() + DRAIN_S
        for item in active:
            item.thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for item in active:
            self._close_unfinished(item.run.id)
        if self.http is not None:
            self.http.stop()
        if self._lock_file is not None:
            self._lock_file.close()
        log.info("daemon_stopped", interrupted=[a.run.id for a in active])

    def _close_unfinished(self, run_id: str) -> None:
        run = self.store.get_run(run_id)
        if run.status == "running":
            try:
                run = self.store.finish_run(
                    run_id, "interrupted", error="daemon shut down", retryable=True
                )
            except StoreError:
                run = self.store.get_run(run_id)
        if run.status == "interrupted":
            requeue(self.store, run)

    # -- requests from outside -----------------------------------------------------------

    def enqueue_manual(
        self, automation: str, *, subject: Subject | None = None, task: str | None = None
    ) -> str:
        """Store a manual event for ``automation``, create its run, wake the loop; return its id.

        Raises ValueError as ``factory.daemon.dispatch.enqueue_manual`` does.
        """
        decision = enqueue_manual(
            self.store, self.dispatcher, automation, subject=subject, task=task, wake=self.wake
        )
        return decision.run_id or ""

    def health(self) -> dict[str, Any]:
        """Return what ``/healthz`` reports."""
        return {
            "status": "stopping" if self.stopping.is_set() else "ok",
            "version": __version__,
            "uptime_s": round(time.monotonic() - self.started_at, 1),
            "queued": len(self.store.queued_runs(limit=10_000)),
            "running": [
                {"run_id": a.run.id, "automation": a.run.automation, "subject": a.run.subject_key}
                for a in list(self.active.values())
            ],
            "config_errors": self.watcher.last_errors,
            "disk": disk_report(self.env, self.watcher.config),
        }
