"""Approvals the factory applies on a maintainer's behalf, and how they count.

An approval label (the policy's ``labels.ready``) on GitHub approves work for the automations
that change code. The output gate lets a run put one on an issue only when a maintainer caused
the run (``forge.output_requests``): a maintainer who asks the Slack intake to file a bug
approves it by asking. On GitHub the label's applier is then the factory's own login, which is
not a maintainer, and its ``issues.labeled`` delivery is the factory's own event. So when such a
run finishes, the daemon stores one ``issues.labeled`` event per approval it applied, with the
maintainer as actor and ``vouched`` naming the run and output; the builder's trigger fires on
it, and the run-time approval check counts the factory's application of a label as the
maintainer's only when such an event is stored for that subject and label.
"""

from __future__ import annotations

from collections.abc import Collection

import structlog

from factory.events import Event, Subject, Trust
from factory.forge.trust import TrustResolver
from factory.store import RunRecord, RunStore
from factory.store.records import OutputRecord

log = structlog.get_logger(__name__)

VOUCH_KIND = "issues.labeled"
"""The kind of a vouched approval: the kind the approval label's own delivery has."""


def _approved(record: OutputRecord) -> tuple[int, list[str]] | None:
    """Return (issue number, labels put on it) of an applied labelling output, else None."""
    if record.status != "applied" or not isinstance(record.request, dict):
        return None
    payload = record.request.get("payload") or {}
    labels = [str(name) for name in payload.get("labels") or []]
    if record.kind == "create_issue" and isinstance(record.result, dict):
        number = record.result.get("number")
    elif record.kind == "add_labels":
        number = record.request.get("target")
    else:
        return None
    return (number, labels) if isinstance(number, int) else None


def record_vouches(
    store: RunStore, run: RunRecord, event: Event | None, approval_labels: Collection[str]
) -> list[int]:
    """Store the vouched approvals ``run`` applied; return the new events' ids.

    Nothing is stored unless ``event`` (the run's cause) was a maintainer's. Redelivery-safe:
    each approval has a dedup key made of the output's idempotency key and the label.
    """
    if event is None or event.trust != "maintainers":
        return []
    added: list[int] = []
    for record in store.outputs_for_run(run.id):
        approved = _approved(record)
        if approved is None:
            continue
        number, labels = approved
        for label in labels:
            if label not in approval_labels:
                continue
            vouch = Event(
                source="github",
                kind=VOUCH_KIND,
                dedup_key=f"vouch:{record.idempotency_key}:{label}",
                subject=Subject(kind="issue", number=number),
                actor=event.actor,
                trust="maintainers",
                payload={
                    "label": {"name": label},
                    # the labels this output put on the issue, as a delivery's issue carries
                    # them: a trigger's with_labels/without_labels (bug → the bug fixer, not
                    # the builder) reads them here too
                    "issue": {"number": number, "labels": [{"name": n} for n in labels]},
                    "vouched": {
                        "run_id": run.id,
                        "output": record.idempotency_key,
                        "source": event.source,
                        "actor": event.actor,
                    },
                },
            )
            event_id, new = store.add_event(vouch)
            if new:
                added.append(event_id)
                log.info("approval_vouched", run_id=run.id, issue=number, label=label)
    return added


def vouched_labels(store: RunStore, subject_key: str) -> set[str]:
    """Return the labels a maintainer's run approved on the subject (vouched events)."""
    return {
        str(record.event.payload["label"]["name"])
        for record in store.subject_events(subject_key, [VOUCH_KIND])
        if record.event.trust == "maintainers" and "vouched" in record.event.payload
    }


def vouching_resolver(
    store: RunStore,
    subject_key: str,
    labels: Collection[str],
    bot_login: str | None,
    resolve: TrustResolver,
) -> TrustResolver:
    """Return ``resolve``, except that the factory's own login counts as a maintainer when
    every one of ``labels`` it applied to the subject was vouched for by a maintainer's run."""
    bot = (bot_login or "").lower()
    vouched = bool(bot) and set(labels) <= vouched_labels(store, subject_key)

    def trust_of(login: str) -> Trust:
        if vouched and login.lower() == bot:
            return "maintainers"
        return resolve(login)

    return trust_of
