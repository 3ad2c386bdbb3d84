"""The trust gate: whether an event's trigger and its actor's trust let an automation run.

Dispatch asks two questions of every (event, automation) pair, and both are answered here:
- does the event fire one of the automation's triggers (webhook name, action, label, branch
  glob, draft state, the subject's labels (``with_labels``/``without_labels``), the
  automation a schedule or manual event names, Sentry level and project, Slack channel) on
  a subject of the kind the automation works on? Events caused by the factory's own
  writes fire nothing unless the trigger says ``include_factory: true``;
- is the event's actor trusted enough (``TRUST_ORDER``) for the automation's ``trust``? If
  not, the run is skipped with the refusal this module words, so a person can see why.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from factory.config.automation import Automation
from factory.config.triggers import GithubTrigger, Trigger
from factory.daemon.merge_events import merges_factory_pr
from factory.events import TRUST_ORDER, Event


def label_of(payload: dict[str, Any]) -> str | None:
    """Return the name of the label a ``labeled``/``unlabeled`` payload carries, or None."""
    label = payload.get("label")
    return label.get("name") if isinstance(label, dict) else None


def subject_labels(payload: dict[str, Any]) -> set[str]:
    """Return the label names of the issue or pull request a payload is about."""
    subject = payload.get("issue") or payload.get("pull_request")
    labels = subject.get("labels") if isinstance(subject, dict) else None
    if not isinstance(labels, list):
        return set()
    return {str(x.get("name")) for x in labels if isinstance(x, dict)}


def branch_of(event: Event) -> str | None:
    """Return the branch a push (its ref) or a pull request (its base) is about, or None."""
    payload = event.payload
    ref = payload.get("ref")
    if isinstance(ref, str) and ref.startswith("refs/heads/"):
        return ref.removeprefix("refs/heads/")
    pull = payload.get("pull_request")
    if isinstance(pull, dict):
        base = pull.get("base")
        if isinstance(base, dict) and isinstance(base.get("ref"), str):
            return str(base["ref"])
    return None


def github_matches(trigger: GithubTrigger, event: Event) -> bool:
    """True when the GitHub ``event`` fires ``trigger`` (the factory's own only if included)."""
    name, _, action = event.kind.partition(".")
    if name != trigger.webhook_event:
        return False
    if trigger.action is not None and action != trigger.action:
        return False
    if trigger.label is not None and label_of(event.payload) != trigger.label:
        return False
    if trigger.branch is not None:
        branch = branch_of(event)
        if branch is None or not fnmatch.fnmatchcase(branch, trigger.branch):
            return False
    if trigger.draft is not None:
        pull = event.payload.get("pull_request")
        if not isinstance(pull, dict) or bool(pull.get("draft")) != trigger.draft:
            return False
    labels = subject_labels(event.payload)
    if not set(trigger.with_labels) <= labels or set(trigger.without_labels) & labels:
        return False
    if not trigger.payload_fits(event.payload):
        return False
    if trigger.merges_factory_pr and not merges_factory_pr(event):
        return False
    return not event.by_factory or trigger.include_factory


def trigger_matches(trigger: Trigger, automation: Automation, event: Event) -> bool:
    """True when ``trigger`` (one of ``automation``'s) is fired by ``event``."""
    if trigger.github is not None:
        return event.source == "github" and github_matches(trigger.github, event)
    if trigger.schedule is not None or trigger.manual is not None:
        wanted = "schedule" if trigger.schedule is not None else "manual"
        return event.source == wanted and event.payload.get("automation") == automation.name
    if trigger.sentry is not None:
        return trigger.sentry.matches(event)
    if trigger.slack is not None:
        channel = trigger.slack.channel
        return event.source == "slack" and (
            channel is None or event.payload.get("channel") == channel
        )
    return False


def subject_fits(automation: Automation, event: Event) -> bool:
    """True when ``event``'s subject is of the kind ``automation`` works on (or it needs none)."""
    if automation.subject == "none":
        return True
    if event.subject is None and event.source == "schedule":
        return event.payload.get("empty_select") is True  # a `when_empty: run` sweep
    return event.subject is not None and event.subject.kind == automation.subject


def trust_refusal(automation: Automation, event: Event) -> str | None:
    """Return why ``event``'s actor is not trusted enough for ``automation``, or None."""
    # Sentry's data may start what anyone may (trust: anyone); it approves nothing.
    if max(TRUST_ORDER[event.trust], TRUST_ORDER["anyone"]) < TRUST_ORDER[automation.trust]:
        who = event.actor or "unknown actor"
        return (
            f"trust: {who} is trusted as '{event.trust}', "
            f"automation {automation.name} needs '{automation.trust}'"
        )
    return None
