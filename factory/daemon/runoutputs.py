"""What a run's outputs need: the run's context for the output gate, and the gate itself."""

from __future__ import annotations

from factory.config.automation import Automation
from factory.config.loader import FactoryConfig
from factory.config.templating import SubjectSnapshot
from factory.daemon.runenv import RunEnv, key_scope
from factory.events import Event, Trust
from factory.forge.config_performer import (
    ConfigRepoSide,
    config_proposal_performer,
    config_repository_name,
)
from factory.forge.output_performers import BUILTIN_PERFORMERS, OutputPerformer
from factory.forge.output_requests import RunContext
from factory.forge.outputs import OutputGate
from factory.forge.pr_output import PullRequestSide, pull_request_performers
from factory.forge.pr_push_perform import push_performers
from factory.forge.revert_output import revert_performer
from factory.interfaces import Sandbox
from factory.sentry.side import run_sentry_side
from factory.store import RunRecord
from factory.workspace import Workspace


def run_context(
    env: RunEnv,
    run: RunRecord,
    automation: Automation,
    snap: SubjectSnapshot | None,
    event: Event | None,
    config: FactoryConfig,
) -> RunContext:
    """Return what the output layer needs to know about ``run`` (which has a GitHub side)."""
    gh = env.github
    assert gh is not None
    return RunContext(
        run.id,
        automation.name,
        automation.run_outputs(),  # every kind staged when the automation is
        snap.context.number if snap else None,
        gh.repo,
        env.store,
        secrets=env.secrets,
        bot_login=gh.bot_login,
        trust=approving_trust(config, event, automation),
        approval_labels=approval_labels(config, event, automation),
        key_scope=key_scope(run),
        slack=(
            env.slack.side(env.store, run.subject_key, event, automation.slack_channel)
            if env.slack
            else None
        ),
        sentry=run_sentry_side(env.store, env.sentry, run.subject_key) if env.sentry else None,
    )


def approving_trust(config: FactoryConfig, event: Event | None, automation: Automation) -> Trust:
    """Return the trust the output gate's approval check sees: the event's, except that an
    unknown cause approves nothing, nor does a planner run unless the policy lets the planner
    approve (a maintainer opening an issue has not approved it)."""
    planner = config.policy.planner
    if event is None or (automation.name == planner.automation and not planner.approve):
        return "anyone"
    return event.trust


def approval_labels(
    config: FactoryConfig, event: Event | None, automation: Automation | None = None
) -> frozenset[str]:
    """Return the labels only a maintainer's run may apply: the policy's ready label, except
    for a run Sentry started when the policy lets the incident responder approve, and a run
    of the planner when the policy lets the planner approve (``planner: {approve: true}``)."""
    if event is not None and event.source == "sentry" and config.policy.sentry.approve:
        return frozenset()
    planner = config.policy.planner
    if automation is not None and automation.name == planner.automation and planner.approve:
        return frozenset()
    return frozenset({config.policy.labels.ready})


def output_gate(
    env: RunEnv,
    run: RunRecord,
    automation: Automation,
    workspace: Workspace | None,
    sandbox: Sandbox | None,
    snap: SubjectSnapshot | None,
    config: FactoryConfig,
) -> OutputGate:
    """Return the output gate of ``run``: the built-in performers and the pull request ones."""
    gh = env.github
    assert gh is not None
    number = snap.context.number if snap else None
    kind = snap.context.kind if snap else "run"
    side = PullRequestSide(
        workspace=workspace,
        sandbox=sandbox,
        mirror=gh.mirror,
        policy=config.policy,
        data_dir=env.data_dir,
        subject_slug=f"{kind}-{number}" if number is not None else run.automation,
        open_config=automation.outputs.open_pull_request,
        merge_config=automation.outputs.merge_pull_request,
        auth_header=gh.auth_header,
        config_repos=config_repos(env),
        sandbox_limits=automation.sandbox.limits(),
    )
    push = push_performers(side, automation.outputs.push_to_pull_request)
    return OutputGate(
        {
            **BUILTIN_PERFORMERS,
            **pull_request_performers(side),
            **proposal_performers(env, config),
            **push,
            "revert_pull_request": revert_performer(side),
        }
    )


def proposal_performers(env: RunEnv, config: FactoryConfig) -> dict[str, OutputPerformer]:
    """Return the ``propose_config_change`` performer: proposals to the config repository."""
    gh = env.github
    side = ConfigRepoSide(
        root=env.config_root,
        data_dir=env.data_dir,
        needs_human=config.policy.labels.needs_human,
        github=gh.github if gh else None,
        auth_header=gh.auth_header if gh else lambda: None,
    )
    return {"propose_config_change": config_proposal_performer(side)}


def config_repos(env: RunEnv) -> frozenset[str]:
    """Return the GitHub repository of the factory config repository's remote, if it has one:
    the merge gate never merges a pull request there."""
    name = config_repository_name(env.config_root) if env.config_root else None
    return frozenset({name.lower()}) if name else frozenset()
