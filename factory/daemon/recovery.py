"""Recovery at daemon start: what a crash (kill -9, power loss) left behind is made whole.

Order matters: (1) runs still ``running`` become ``interrupted``; (2) their claims, held
under this daemon's stable instance id, are released; (3) every output intent recorded
before a crash is settled by looking for its marker on GitHub — found means applied,
not found means performed now (or refused, for a pull request whose workspace is gone) —
so nothing is written twice; (4) only then are the interrupted runs re-queued, and a
retry's outputs share the scope of the crashed attempt's. Stored events not yet dispatched
are dispatched by the daemon's loop as usual.

"Interrupted runs" are all those left without a next attempt, not only the ones this start
marked: a crash during an earlier recovery (or a shutdown) may have marked a run and died
before re-queuing it. A run interrupted ``MAX_ATTEMPTS_AFTER_INTERRUPT`` times is given up
*visibly*: its subject gets the policy's needs-human label and one comment saying why
(found again by its marker, so a crash mid-way never doubles it), then a ``given_up`` step.
"""

from __future__ import annotations

import structlog
from github.GithubException import GithubException

from factory.config.loader import FactoryConfig
from factory.config.outputs_config import Outputs
from factory.crashpoints import crashpoint
from factory.daemon.runenv import GitHubSide, RunEnv, claimed_on_github, holder_of, key_scope
from factory.daemon.runoutputs import config_repos, proposal_performers
from factory.errors import StoreError
from factory.events import parse_subject_key
from factory.forge.markers import append_marker, has_marker
from factory.forge.output_performers import BUILTIN_PERFORMERS
from factory.forge.output_requests import RunContext
from factory.forge.outputs import OutputGate
from factory.forge.pr_output import PullRequestSide, pull_request_performers
from factory.forge.revert_output import revert_performer
from factory.sentry.side import run_sentry_side
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
    marked = store.mark_interrupted_running()
    stranded = stranded_runs(store, set(marked))
    if stranded:
        crashpoint("recovery_after_interrupt")
    if github is not None:
        for run in stranded:
            release_claim(github, instance, run)
        if stranded:
            crashpoint("recovery_after_release")
        if reconcile_outputs(store, github, config, env):
            crashpoint("recovery_after_reconcile")
    for run in stranded:
        if run.attempt >= MAX_ATTEMPTS_AFTER_INTERRUPT:
            give_up(store, github, config, run)
        else:
            requeue(store, run)
    if stranded:
        crashpoint("recovery_after_requeue")
    if env.workspaces is not None:
        env.workspaces.sweep(active_run_ids=set())
    return [run.id for run in stranded]


STRANDED_SCAN = 500
"""How many of the newest interrupted runs are checked for a missing next attempt."""


def stranded_runs(store: RunStore, marked: set[str]) -> list[RunRecord]:
    """Return the interrupted runs with neither a next attempt nor a give-up (oldest first).

    ``marked`` are the ids just marked interrupted; a run without an event (no attempt
    chain to look at) counts only when it is among them.
    """
    found = []
    for run in reversed(store.list_runs(status="interrupted", limit=STRANDED_SCAN)):
        if run.event_id is None:
            if run.id in marked:
                found.append(run)
            continue
        later = store.runs_of_event(run.event_id)
        if any(r.automation == run.automation and r.attempt > run.attempt for r in later):
            continue
        if not any(step.kind == GIVEN_UP_STEP for step in store.steps(run.id)):
            found.append(run)
    return found


def release_claim(github: GitHubSide, instance: str, run: RunRecord) -> None:
    """Release the claim ``run`` held under this daemon's id, if it still holds it."""
    if run.subject_key is None or not claimed_on_github(run.subject_key):
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
) -> int:
    """Settle every output intent left by a crash: mark what GitHub has, perform the rest.

    Returns how many intents were settled.
    """
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
        config_repos=config_repos(env),
    )
    gate = OutputGate(
        {
            **BUILTIN_PERFORMERS,
            **pull_request_performers(no_workspace),
            **proposal_performers(env, config),
            "revert_pull_request": revert_performer(no_workspace),
        }
    )

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
            slack=env.slack.side(store, run.subject_key, None) if env.slack else None,
            sentry=run_sentry_side(store, env.sentry, run.subject_key) if env.sentry else None,
        )

    return len(gate.reconcile_pending(store, context_for))


def requeue(store: RunStore, run: RunRecord) -> str | None:
    """Queue the next attempt of an interrupted run; return its id (None: not re-queued)."""
    if run.attempt >= MAX_ATTEMPTS_AFTER_INTERRUPT:
        # A run whose attempts keep dying with the daemon may be what kills it.
        log.error("run_not_requeued", run_id=run.id, attempts=run.attempt)
        return None
    try:
        retry = store.retry_run(run.id)
    except StoreError as exc:
        log.warning("run_requeue_failed", run_id=run.id, error=str(exc))
        return None
    log.info("run_requeued", run_id=run.id, retry=retry)
    return retry


GIVEN_UP_STEP = "given_up"
"""Step kind recorded once a run's give-up is visible on its subject."""


def give_up_note(run: RunRecord) -> str:
    """Return what a person is told about a run given up by the crash-loop guard."""
    return (
        f"factoryd gave up on run {run.id} ({run.automation}): it was interrupted "
        f"{run.attempt} times in a row (the daemon died while it ran), so it is not "
        "re-queued again. A person should look; re-run it with `factoryd run` once fixed."
    )


def give_up(
    store: RunStore, github: GitHubSide | None, config: FactoryConfig, run: RunRecord
) -> None:
    """Make the give-up of ``run`` visible, once: needs-human label, a comment, a step (only
    the step for a fully staged automation's run, which writes nothing to GitHub)."""
    if any(step.kind == GIVEN_UP_STEP for step in store.steps(run.id)):
        return
    note = give_up_note(run)
    subject = parse_subject_key(run.subject_key) if run.subject_key else None
    shown_on = None
    automation = config.automations.get(run.automation)
    staged = automation is not None and automation.fully_staged
    if github is not None and subject is not None and subject.number is not None and not staged:
        try:
            _show_give_up(github, config, run, subject.number, note)
        except GithubException as exc:  # shown at the next start: no step recorded yet
            log.warning("give_up_not_shown", run_id=run.id, status=exc.status)
            return
        shown_on = subject.number
    store.add_step(run.id, GIVEN_UP_STEP, {"notice": note, "shown_on": shown_on}, text=note)
    log.error("run_given_up", run_id=run.id, attempts=run.attempt, subject=run.subject_key)


def _show_give_up(
    github: GitHubSide, config: FactoryConfig, run: RunRecord, number: int, note: str
) -> None:
    # Label by state, comment by marker: a crash between the two writes doubles neither.
    issue = github.repo.get_issue(number)
    label = config.policy.labels.needs_human
    if label.casefold() not in {existing.name.casefold() for existing in issue.get_labels()}:
        issue.add_to_labels(label)
    crashpoint("recovery_give_up_after_label")
    key = f"{key_scope(run)}:given-up:{run.attempt}"
    if not any(has_marker(c.body, key) for c in issue.get_comments()):
        issue.create_comment(append_marker(note, run.id, key))
    crashpoint("recovery_give_up_after_comment")
