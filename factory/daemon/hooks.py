"""The dispatcher's hooks: what holds a run back and what absorbs a stored event.

One place that lists them, so the daemon's start stays a list of parts: the dependency gate
(no build while an issue's dependencies are open) and the absorbers — Slack follow-ups,
the Sentry loop, outcomes, the dependency release, the merge events the post-merge
verifier runs on and the merge conflicts of factory PRs (``factory.daemon.conflicts``).
"""

from __future__ import annotations

from collections.abc import Callable

from factory.config.harness import Policy
from factory.daemon.conflicts import Conflicts
from factory.daemon.dependency_gate import DependencyGate
from factory.daemon.dispatch import Absorb, Dispatcher, absorb_all
from factory.daemon.merge_events import MergeEvents
from factory.daemon.runenv import GitHubSide
from factory.forge.outcomes import OutcomeRecorder
from factory.store import RunStore


def hook_dispatcher(
    dispatcher: Dispatcher,
    store: RunStore,
    github: GitHubSide,
    policy: Callable[[], Policy],
    secrets: tuple[str, ...],
    *absorbers: Absorb | None,
) -> None:
    """Give ``dispatcher`` its gate and one absorb: ``absorbers`` first, then the built-in ones."""
    gate = DependencyGate(store, github.repo, policy, secrets=secrets)
    dispatcher.gate = gate.refusal
    dispatcher.absorb = absorb_all(
        *absorbers,
        OutcomeRecorder(store).absorb,
        gate.absorb,
        MergeEvents(store, github.repo, github.bot_login).absorb,
        Conflicts(store, github, policy, dispatcher.config).absorb,
    )
