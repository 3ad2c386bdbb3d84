"""Recovery at daemon start: what a crash (kill -9, power loss) left behind is made whole.

Order matters: (1) runs still ``running`` become ``interrupted``; (2) their claims, held
under this daemon's stable instance id, are released; (3) every output intent recorded
before a crash is settled by looking for its marker on GitHub — found means applied,
not found means performed now (or refused, for a pull request whose workspace is gone) —
so nothing is written twice; (4) only then are the interrupted runs re-queued, and a
retry's outputs share the scope of the crashed attempt's. Stored events not yet dispatched
are dispatched by the daemon's loop as usual.
"""

from __future__ import annotations

import structlog

from factory.config.automation import Outputs
from factory.config.loader import FactoryConfig
from factory.daemon.runenv import GitHubSide, RunEnv, holder_of, key_scope
from factory.errors import StoreError
from factory.events import parse_subject_key
from factory.forge.output_performers import BUILTIN_PERFORMERS
from factory.forge.output_requests import RunContext
from factory.forge.outputs import OutputGate
from factory.forge.pr_output import PullRequestSide, pull_request_performers
from factory.store import OutputRecord, RunRecord, RunStore

log = structlog.get_logger(__name__)

MAX_ATTEMPTS_AFTER_INTERRUPT = 5
"""A run interrupted this many times is not re-queued again (a crash loop needs a person)."""


def recover(
    store: RunStore,
    github: GitHubSide | None,
    instance: str,
    config: FactoryConfig,
    env: RunEnv,
) -> list[str]:
    """Make a crashed daemon's leftovers whole (see module docs); return the interrupted ids."""
    interrupted = store.mark_interrupted_running()
    if github is not None:
        for run_id in interrupted:
            release_claim(github, instance, store.get_run(run_id))
        reconcile_outputs(store, github, config, env)
    for run_id in interrupted:
        requeue(store, store.get_run(run_id))
    if env.workspaces is not None:
        env.workspaces.sweep(active_run_ids=set())
    return interrupted


def release_claim(github: GitHubSide, instance: str, run: RunRecord) -> None:
    """Release the claim ``run`` held under this daemon's id, if it still holds it."""
    if run.subject_key is None or run.subject_key.startswith("commit:"):
        return
    holder = holder_of(instance, run)
    current = github.claims.current(run.subject_key)
    if current is None or current[2] is None or current[2].holder != holder:
        return
    claim = github.claims.claim(run.subject_key, holder, github.lease_s)  # same holder re-takes
    if claim is not None:
        claim.release()
        log.info("claim_released", run_id=run.id, subject=run.subject_key)


def reconcile_outputs(
    store: RunStore, github: GitHubSide, config: FactoryConfig, env: RunEnv
) -> None:
    """Settle every output intent left by a crash: mark what GitHub has, perform the rest."""
    no_workspace = PullRequestSide(
        workspace=None,
        sandbox=None,
        mirror=github.mirror,
        policy=config.policy,
        data_dir=env.data_dir,
        subject_slug="recovered",
        open_config=None,
        merge_config=None,
        auth_header=github.auth_header,
    )
    gate = OutputGate({**BUILTIN_PERFORMERS, **pull_request_performers(no_workspace)})

    def context_for(record: OutputRecord) -> RunContext:
        run = store.get_run(record.run_id)
        automation = config.automations.get(run.automation)
        subject = parse_subject_key(run.subject_key) if run.subject_key else None
        return RunContext(
            run.id,
            run.automation,
            automation.outputs if automation else Outputs(),
            subject.number if subject else None,
            github.repo,
            store,
            secrets=env.secrets,
            bot_login=github.bot_login,
            key_scope=key_scope(run),
        )

    gate.reconcile_pending(store, context_for)


def requeue(store: RunStore, run: RunRecord) -> str | None:
    """Queue the next attempt of an interrupted run; return its id (None: not re-queued)."""
    if run.attempt >= MAX_ATTEMPTS_AFTER_INTERRUPT:
        # A run whose attempts keep dying with the daemon may be what kills it.
        note = (
            f"not re-queued: interrupted {run.attempt} times in a row; "
            "a person should look (re-run it with `factoryd run` once fixed)"
        )
        store.add_step(run.id, "notice", {"notice": note}, text=note)
        log.error("run_not_requeued", run_id=run.id, attempts=run.attempt)
        return None
    try:
        retry = store.retry_run(run.id)
    except StoreError as exc:
        log.warning("run_requeue_failed", run_id=run.id, error=str(exc))
        return None
    log.info("run_requeued", run_id=run.id, retry=retry)
    return retry
