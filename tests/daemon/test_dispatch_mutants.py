"""Tests that kill mutants `make mutants` found alive in dispatch's trust gate (trust_gate.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.config.automation import Automation
from factory.config.triggers import Trigger
from factory.daemon.trust_gate import (
    branch_of,
    label_of,
    subject_fits,
    subject_labels,
    trigger_matches,
    trust_refusal,
)
from factory.events import Event, Subject, Trust


def _automation(
    trigger: dict[str, Any], *, name: str = "gate", subject: str = "issue", trust: str = "anyone"
) -> Automation:
    return Automation.model_validate(
        {
            "name": name,
            "on": [trigger],
            "subject": subject,
            "trust": trust,
            "prompt": "Do it.",
            "path": Path(f"{name}.yaml"),
            "source_text": "",
            "content_hash": "h",
        }
    )


def _event(
    kind: str = "issues.labeled",
    *,
    source: str = "github",
    payload: dict[str, Any] | None = None,
    by_factory: bool = False,
    subject: Subject | None = None,
    trust: Trust = "maintainers",
    actor: str | None = "alice",
) -> Event:
    return Event(
        source=source,  # type: ignore[arg-type]
        kind=kind,
        dedup_key="k1",
        subject=subject,
        actor=actor,
        trust=trust,
        by_factory=by_factory,
        payload=payload or {},
    )


def _fires(trigger: dict[str, Any], event: Event, *, name: str = "gate") -> bool:
    automation = _automation(trigger, name=name)
    return trigger_matches(automation.on[0], automation, event)


# -- label_of / branch_of ----------------------------------------------------------------


def test_label_of_reads_the_label_name() -> None:
    """The label of a labeled payload is its ``label.name``."""
    assert label_of({"label": {"name": "factory:ready"}}) == "factory:ready"


def test_label_of_a_payload_without_label_is_none() -> None:
    """A payload with no label object has no label."""
    assert label_of({"label": "factory:ready"}) is None


def test_branch_of_a_push_is_its_ref_without_the_prefix() -> None:
    """A push to refs/heads/release/1 is about the branch release/1."""
    assert branch_of(_event("push", payload={"ref": "refs/heads/release/1"})) == "release/1"


def test_branch_of_a_tag_push_is_none() -> None:
    """A push of a tag (refs/tags/...) is about no branch."""
    assert branch_of(_event("push", payload={"ref": "refs/tags/v1"})) is None


def test_branch_of_a_pull_request_is_its_base() -> None:
    """A pull request is about its base branch, not its head."""
    pull = {"base": {"ref": "main"}, "head": {"ref": "feature"}}
    assert branch_of(_event("pull_request.opened", payload={"pull_request": pull})) == "main"


def test_branch_of_a_pull_request_without_base_ref_is_none() -> None:
    """A pull request whose base carries no ref names no branch."""
    pull = {"base": {"sha": "abc"}}
    assert branch_of(_event("pull_request.opened", payload={"pull_request": pull})) is None


def test_branch_of_a_pull_request_whose_base_is_not_an_object_is_none() -> None:
    """A malformed base (a string) names no branch instead of raising."""
    pull = {"base": "main"}
    assert branch_of(_event("pull_request.opened", payload={"pull_request": pull})) is None


def test_branch_of_a_non_string_ref_falls_back_to_the_pull_request() -> None:
    """A ref that is not a string is ignored and the pull request's base decides."""
    payload = {"ref": 7, "pull_request": {"base": {"ref": "main"}}}
    assert branch_of(_event("pull_request.opened", payload=payload)) == "main"


# -- github triggers -----------------------------------------------------------------------


def test_github_trigger_fires_on_its_event_and_action() -> None:
    """issues.labeled fires a trigger on issues.labeled."""
    assert _fires({"github": {"event": "issues.labeled"}}, _event("issues.labeled")) is True


def test_github_trigger_ignores_another_webhook_event() -> None:
    """pull_request.labeled does not fire a trigger on issues.labeled."""
    event = _event("pull_request.labeled")
    assert _fires({"github": {"event": "issues.labeled"}}, event) is False


def test_github_trigger_ignores_another_action() -> None:
    """issues.opened does not fire a trigger on issues.labeled."""
    assert _fires({"github": {"event": "issues.labeled"}}, _event("issues.opened")) is False


def test_github_trigger_without_action_fires_on_every_action() -> None:
    """A trigger on ``issues`` fires on issues.closed."""
    assert _fires({"github": {"event": "issues"}}, _event("issues.closed")) is True


def test_github_trigger_needs_a_github_event() -> None:
    """A Slack event of the same kind name does not fire a GitHub trigger."""
    event = _event("issues.labeled", source="slack")
    assert _fires({"github": {"event": "issues.labeled"}}, event) is False


def test_label_trigger_fires_on_its_label() -> None:
    """A trigger with a label fires when that label was added."""
    event = _event(payload={"label": {"name": "factory:ready"}})
    trigger = {"github": {"event": "issues.labeled", "label": "factory:ready"}}
    assert _fires(trigger, event) is True


def test_label_trigger_ignores_another_label() -> None:
    """A trigger with a label does not fire for another label."""
    event = _event(payload={"label": {"name": "bug"}})
    trigger = {"github": {"event": "issues.labeled", "label": "factory:ready"}}
    assert _fires(trigger, event) is False


def test_branch_trigger_fires_on_a_matching_glob() -> None:
    """A branch glob release/* fires on a push to release/2."""
    event = _event("push", payload={"ref": "refs/heads/release/2"})
    assert _fires({"github": {"event": "push", "branch": "release/*"}}, event) is True


def test_branch_trigger_ignores_another_branch() -> None:
    """A branch glob release/* does not fire on a push to main."""
    event = _event("push", payload={"ref": "refs/heads/main"})
    assert _fires({"github": {"event": "push", "branch": "release/*"}}, event) is False


def test_branch_trigger_ignores_an_event_without_branch() -> None:
    """A branch trigger does not fire on a tag push (no branch at all)."""
    event = _event("push", payload={"ref": "refs/tags/v1"})
    assert _fires({"github": {"event": "push", "branch": "*"}}, event) is False


def test_branch_glob_is_case_sensitive() -> None:
    """A branch glob main does not fire on the branch MAIN (branches are case-sensitive)."""
    event = _event("push", payload={"ref": "refs/heads/MAIN"})
    assert _fires({"github": {"event": "push", "branch": "main"}}, event) is False


def test_draft_trigger_fires_on_a_draft() -> None:
    """draft: true fires on a draft pull request."""
    event = _event("pull_request.opened", payload={"pull_request": {"draft": True}})
    assert _fires({"github": {"event": "pull_request.opened", "draft": True}}, event) is True


def test_draft_trigger_ignores_a_ready_pull_request() -> None:
    """draft: true does not fire on a pull request that is not a draft."""
    event = _event("pull_request.opened", payload={"pull_request": {"draft": False}})
    assert _fires({"github": {"event": "pull_request.opened", "draft": True}}, event) is False


def test_non_draft_trigger_fires_on_a_pull_request_without_draft_field() -> None:
    """draft: false fires on a pull request whose payload omits ``draft`` (not a draft)."""
    event = _event("pull_request.opened", payload={"pull_request": {}})
    assert _fires({"github": {"event": "pull_request.opened", "draft": False}}, event) is True


def test_draft_trigger_ignores_an_event_without_pull_request() -> None:
    """A draft trigger does not fire on an event that carries no pull request."""
    event = _event("pull_request.opened", payload={})
    assert _fires({"github": {"event": "pull_request.opened", "draft": False}}, event) is False


def test_factory_event_fires_nothing_by_default() -> None:
    """An event the factory caused does not fire a trigger without include_factory."""
    event = _event(by_factory=True)
    assert _fires({"github": {"event": "issues.labeled"}}, event) is False


def test_factory_event_fires_a_trigger_including_it() -> None:
    """An event the factory caused fires a trigger with include_factory: true."""
    event = _event(by_factory=True)
    trigger = {"github": {"event": "issues.labeled", "include_factory": True}}
    assert _fires(trigger, event) is True


def test_a_person_event_fires_a_trigger_including_factory_events() -> None:
    """include_factory adds the factory's events; a person's events still fire it."""
    trigger = {"github": {"event": "issues.labeled", "include_factory": True}}
    assert _fires(trigger, _event()) is True


# -- schedule / manual ---------------------------------------------------------------------


def test_schedule_trigger_fires_on_its_own_tick() -> None:
    """A schedule event naming the automation fires its schedule trigger."""
    event = _event("schedule", source="schedule", payload={"automation": "nightly"})
    assert _fires({"schedule": {"every": "1h"}}, event, name="nightly") is True


def test_schedule_trigger_ignores_another_automations_tick() -> None:
    """A schedule event naming another automation does not fire it."""
    event = _event("schedule", source="schedule", payload={"automation": "other"})
    assert _fires({"schedule": {"every": "1h"}}, event, name="nightly") is False


def test_schedule_trigger_ignores_a_manual_event() -> None:
    """A manual event naming the automation does not fire its schedule trigger."""
    event = _event("manual", source="manual", payload={"automation": "nightly"})
    assert _fires({"schedule": {"every": "1h"}}, event, name="nightly") is False


def test_manual_trigger_fires_on_a_manual_event() -> None:
    """A manual event naming the automation fires its manual trigger."""
    event = _event("manual", source="manual", payload={"automation": "nightly"})
    assert _fires({"manual": {}}, event, name="nightly") is True


def test_manual_trigger_ignores_a_schedule_event() -> None:
    """A schedule tick does not fire a manual trigger."""
    event = _event("schedule", source="schedule", payload={"automation": "nightly"})
    assert _fires({"manual": {}}, event, name="nightly") is False


# -- sentry --------------------------------------------------------------------------------
# The gates themselves (level, project, environment, counts, age, actions) are
# SentryTrigger.matches, tested in tests/config/test_sentry_trigger.py; the trust gate only
# asks it, and only for Sentry triggers.


def _sentry(payload: dict[str, Any]) -> Event:
    return _event("sentry.issue.created", source="sentry", payload=payload, trust="data")


def test_sentry_trigger_asks_the_triggers_own_gates() -> None:
    """An error alert fires a Sentry trigger; a debug one does not pass the default levels."""
    fired = _fires({"sentry": {}}, _sentry({"level": "error"}))
    assert (fired, _fires({"sentry": {}}, _sentry({"level": "debug"}))) == (True, False)


def test_sentry_trigger_needs_a_sentry_event() -> None:
    """A GitHub event with a level does not fire a Sentry trigger."""
    event = _event("sentry.issue.created", source="github", payload={"level": "fatal"})
    assert _fires({"sentry": {}}, event) is False


# -- slack ---------------------------------------------------------------------------------


def _slack(channel: str) -> Event:
    return _event("app_mention", source="slack", payload={"channel": channel})


def test_slack_trigger_fires_in_its_channel() -> None:
    """A Slack trigger on channel C0OPS fires on a mention in C0OPS."""
    assert _fires({"slack": {"channel": "C0OPS"}}, _slack("C0OPS")) is True


def test_slack_trigger_ignores_another_channel() -> None:
    """A Slack trigger on channel C0OPS ignores a mention in C0RANDOM."""
    assert _fires({"slack": {"channel": "C0OPS"}}, _slack("C0RANDOM")) is False


def test_slack_trigger_without_channel_fires_anywhere() -> None:
    """A Slack trigger without channel fires on a message in any channel."""
    assert _fires({"slack": {}}, _slack("random")) is True


def test_slack_trigger_needs_a_slack_event() -> None:
    """A GitHub event carrying a channel does not fire a Slack trigger."""
    event = _event("slack.message", source="github", payload={"channel": "ops"})
    assert _fires({"slack": {}}, event) is False


def test_trigger_of_no_known_kind_fires_nothing() -> None:
    """A trigger with none of the kinds set (built past validation) fires nothing."""
    automation = _automation({"manual": {}})
    empty = Trigger.model_construct()
    assert trigger_matches(empty, automation, _event()) is False


# -- subject kind ----------------------------------------------------------------------------


def test_subject_none_fits_any_event() -> None:
    """An automation with subject none runs on an event without subject."""
    assert subject_fits(_automation({"manual": {}}, subject="none"), _event()) is True


def test_subject_kind_fits_an_event_about_that_kind() -> None:
    """An issue automation fits an event about an issue."""
    event = _event(subject=Subject(kind="issue", number=3))
    assert subject_fits(_automation({"manual": {}}), event) is True


def test_subject_kind_does_not_fit_another_kind() -> None:
    """An issue automation does not fit an event about a pull request."""
    event = _event(subject=Subject(kind="pull_request", number=3))
    assert subject_fits(_automation({"manual": {}}), event) is False


def test_subject_kind_does_not_fit_an_event_without_subject() -> None:
    """An issue automation does not fit an event about nothing."""
    assert subject_fits(_automation({"manual": {}}), _event()) is False


# -- trust -----------------------------------------------------------------------------------


def test_equal_trust_is_not_refused() -> None:
    """A maintainer's event is trusted enough for a maintainers automation."""
    automation = _automation({"manual": {}}, trust="maintainers")
    assert trust_refusal(automation, _event(trust="maintainers")) is None


def test_higher_trust_is_not_refused() -> None:
    """A maintainer's event is trusted enough for a collaborators automation."""
    automation = _automation({"manual": {}}, trust="collaborators")
    assert trust_refusal(automation, _event(trust="maintainers")) is None


def test_lower_trust_is_refused_naming_actor_and_levels() -> None:
    """A collaborator's event for a maintainers automation is refused with who and why."""
    automation = _automation({"manual": {}}, name="builder", trust="maintainers")
    assert trust_refusal(automation, _event(trust="collaborators")) == (
        "trust: alice is trusted as 'collaborators', automation builder needs 'maintainers'"
    )


def test_data_starts_what_anyone_may() -> None:
    """Sentry's data may start an automation that trusts anyone (it approves nothing)."""
    automation = _automation({"manual": {}}, name="triage", trust="anyone")
    assert trust_refusal(automation, _event(trust="data", actor=None)) is None


def test_data_is_refused_by_a_collaborators_automation() -> None:
    """Data counts as anyone, no more: a collaborators automation refuses it, saying why."""
    automation = _automation({"manual": {}}, name="fixer", trust="collaborators")
    assert trust_refusal(automation, _event(trust="data", actor=None)) == (
        "trust: unknown actor is trusted as 'data', automation fixer needs 'collaborators'"
    )


# -- the subject's labels, payload filters, merges_factory_pr, when_empty sweeps ------------


def test_subject_labels_of_an_issue_are_its_label_names() -> None:
    """An issue payload's labels are read by name."""
    payload = {"issue": {"labels": [{"name": "bug"}, {"name": "p1"}]}}
    assert subject_labels(payload) == {"bug", "p1"}


def test_subject_labels_of_a_pull_request_are_its_label_names() -> None:
    """Without an issue, the pull request's labels are read."""
    payload = {"pull_request": {"labels": [{"name": "docs"}]}}
    assert subject_labels(payload) == {"docs"}


def test_subject_labels_skip_entries_that_are_not_objects() -> None:
    """A label entry that is not an object (a bare string) is skipped, not read."""
    payload = {"issue": {"labels": ["bug", {"name": "p1"}]}}
    assert subject_labels(payload) == {"p1"}


def test_subject_labels_of_a_non_list_is_empty() -> None:
    """A malformed labels field (an object) gives no labels instead of raising."""
    assert subject_labels({"issue": {"labels": {"name": "bug"}}}) == set()


def test_subject_labels_of_a_payload_without_subject_is_empty() -> None:
    """A payload with neither an issue nor a pull request has no labels."""
    assert subject_labels({"issue": "7"}) == set()


def _labelled(*names: str) -> Event:
    return _event("issues.opened", payload={"issue": {"labels": [{"name": n} for n in names]}})


def test_with_labels_fires_when_the_subject_has_them_all() -> None:
    """with_labels: [bug, p1] fires on an issue labelled bug, p1 and more."""
    trigger = {"github": {"event": "issues.opened", "with_labels": ["bug", "p1"]}}
    assert _fires(trigger, _labelled("bug", "p1", "x")) is True


def test_with_labels_ignores_a_subject_missing_one() -> None:
    """with_labels: [bug, p1] does not fire on an issue labelled only bug."""
    trigger = {"github": {"event": "issues.opened", "with_labels": ["bug", "p1"]}}
    assert _fires(trigger, _labelled("bug")) is False


def test_without_labels_ignores_a_subject_with_one_of_them() -> None:
    """without_labels: [wontfix, dup] does not fire on an issue labelled dup."""
    trigger = {"github": {"event": "issues.opened", "without_labels": ["wontfix", "dup"]}}
    assert _fires(trigger, _labelled("bug", "dup")) is False


def test_without_labels_fires_on_a_subject_with_none_of_them() -> None:
    """without_labels: [wontfix] fires on an issue labelled bug."""
    trigger = {"github": {"event": "issues.opened", "without_labels": ["wontfix"]}}
    assert _fires(trigger, _labelled("bug")) is True


def test_a_payload_filter_that_does_not_fit_fires_nothing() -> None:
    """conclusion: [failure] does not fire on a successful check suite."""
    event = _event("check_suite.completed", payload={"check_suite": {"conclusion": "success"}})
    trigger = {"github": {"event": "check_suite.completed", "conclusion": ["failure"]}}
    assert _fires(trigger, event) is False


def test_a_payload_filter_that_fits_fires() -> None:
    """conclusion: [failure] fires on a failed check suite."""
    event = _event("check_suite.completed", payload={"check_suite": {"conclusion": "failure"}})
    trigger = {"github": {"event": "check_suite.completed", "conclusion": ["failure"]}}
    assert _fires(trigger, event) is True


def _merge_event(factory: object) -> Event:
    merged = {"number": 4, "factory": factory}
    return _event("push", payload={"ref": "refs/heads/main", "_factory": {"merged_pull": merged}})


def test_merges_factory_pr_fires_on_a_derived_factory_merge() -> None:
    """merges_factory_pr fires on the daemon's event about a merged factory pull request."""
    assert _fires({"github": {"event": "push", "merges_factory_pr": True}}, _merge_event(True))


def test_merges_factory_pr_ignores_a_merge_of_a_persons_pull_request() -> None:
    """merges_factory_pr does not fire on a merge the factory did not open."""
    trigger = {"github": {"event": "push", "merges_factory_pr": True}}
    assert _fires(trigger, _merge_event(False)) is False


def test_merges_factory_pr_ignores_a_plain_push() -> None:
    """merges_factory_pr does not fire on the original push (no merged_pull)."""
    event = _event("push", payload={"ref": "refs/heads/main"})
    assert _fires({"github": {"event": "push", "merges_factory_pr": True}}, event) is False


def test_a_trigger_without_merges_factory_pr_fires_on_a_plain_push() -> None:
    """A push trigger without merges_factory_pr fires on a push with no merged_pull."""
    event = _event("push", payload={"ref": "refs/heads/main"})
    assert _fires({"github": {"event": "push"}}, event) is True


def _sweep(payload: dict[str, Any], source: str = "schedule") -> Event:
    return _event("schedule", source=source, payload=payload)


def test_an_empty_select_sweep_fits_an_issue_automation() -> None:
    """A `when_empty: run` tick (no subject, empty_select) fits an automation on issues."""
    assert subject_fits(_automation({"manual": {}}), _sweep({"empty_select": True})) is True


def test_a_subjectless_schedule_tick_without_empty_select_does_not_fit() -> None:
    """A schedule tick with no subject and no empty_select does not fit an issue automation."""
    assert subject_fits(_automation({"manual": {}}), _sweep({})) is False


def test_empty_select_must_be_true_not_merely_truthy() -> None:
    """empty_select must be exactly true: a string "yes" does not make the tick fit."""
    assert subject_fits(_automation({"manual": {}}), _sweep({"empty_select": "yes"})) is False


def test_empty_select_from_a_manual_event_does_not_fit() -> None:
    """Only a schedule's tick may be subject-less for an issue automation, not a manual one."""
    event = _sweep({"empty_select": True}, source="manual")
    assert subject_fits(_automation({"manual": {}}), event) is False
