"""The factory's flow, derived from the automation YAML: which automation hands work to which.

An edge ``A → B`` says an output A may ask for (an issue, a label, a pull request, a comment,
a review, a merge) makes the GitHub event one of B's triggers waits for, or the label one of
B's sweeps selects. Edges from outside come from the sources (Slack, Sentry, people on
GitHub, schedules, manual runs) to the automations they trigger. Self-edges are left out.
``factory_events`` is False when B's trigger ignores events caused by the factory's own
writes (``include_factory: false``): the hand-over then needs a person (or a vouched label).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from factory.config.automation import AutomationSpec
from factory.config.triggers import GithubTrigger, Trigger

SOURCES = ("slack", "sentry", "github", "schedule", "manual")
"""Source nodes, in drawing order; a source node is named ``source:<name>``."""

ISSUE_OR_PR = ("issues", "pull_request")


@dataclass(frozen=True)
class Edge:
    """One hand-over: from an automation (or ``source:<name>``) to an automation."""

    source: str
    target: str
    via: str
    """What carries the work, e.g. "create_issue → issues.opened", "label factory:ready"."""
    output_kind: str | None = None
    """The producer's output kind counted on this edge (None for a source edge)."""
    label: str | None = None
    """The label a label edge is about."""
    factory_events: bool = True
    vouched: bool = False
    """The trigger ignores the factory's own events, but the daemon stores a maintainer's
    approval label applied by the factory as the maintainer's event (factory.daemon.vouch)."""

    @property
    def needs_person(self) -> bool:
        """True when a hand-over along this edge needs a person to act."""
        return not (self.factory_events or self.vouched)


def _labels_of(spec: AutomationSpec, kind: str) -> list[str]:
    """Return the labels an output kind of ``spec`` can put on a subject."""
    config = getattr(spec.outputs, kind)
    if config is None:
        return []
    for attr in ("allowed", "labels"):
        value = getattr(config, attr, None)
        if isinstance(value, list):
            return [str(v) for v in value]
    return []


def _github_matches(kind: str, labels: list[str], trigger: GithubTrigger) -> list[str | None]:
    """Return the labels (or [None]) through which output ``kind`` fires ``trigger``."""
    event, action = trigger.webhook_event, trigger.action

    def fires(events: Iterable[str], actions: Iterable[str]) -> bool:
        return event in events and (action is None or action in actions)

    def by_label(actions: tuple[str, ...]) -> list[str | None]:
        if not fires(ISSUE_OR_PR, actions):
            return []
        return [x for x in labels if trigger.label is None or x == trigger.label]

    if kind == "add_labels":
        return list(by_label(("labeled",)))
    if kind == "remove_labels":
        return list(by_label(("unlabeled",)))
    if kind in ("create_issue", "open_pull_request"):
        made = "issues" if kind == "create_issue" else "pull_request"
        opened: list[str | None] = (
            [None] if event == made and (action is None or action == "opened") else []
        )
        labelled = [
            x for x in labels if event == made and action == "labeled" and x == trigger.label
        ]
        return opened + labelled
    simple = {
        "comment": (("issue_comment",), ("created",)),
        "review_pull_request": (("pull_request_review",), ("submitted",)),
        "merge_pull_request": (("pull_request", "push"), ("closed",)),
        "close_issue": (("issues",), ("closed",)),
    }
    if kind in simple and fires(*simple[kind]) and trigger.label is None:
        return [None]
    return []


def _trigger_edges(
    name: str, spec: AutomationSpec, trigger: Trigger, target: str, vouched: Collection[str]
) -> list[Edge]:
    """Return the edges from producer ``name`` into one trigger of ``target``."""
    edges: list[Edge] = []
    outputs = spec.run_outputs()  # a staged kind writes nothing, so it fires nothing
    kinds = [k for k in outputs.kinds() if not outputs.staged(k)]
    for kind in kinds:
        labels = _labels_of(spec, kind)
        if trigger.github is not None:
            for label in _github_matches(kind, labels, trigger.github):
                via = f"{kind} → {trigger.github.event}" + (f" {label}" if label else "")
                include = trigger.github.include_factory
                vouch = not include and kind == "add_labels" and label in vouched
                edges.append(Edge(name, target, via, kind, label, include, vouch))
        select = trigger.schedule.select if trigger.schedule is not None else None
        if select is not None:
            for label in labels:
                if label in select.labels:
                    edges.append(Edge(name, target, f"{kind} {label} → sweep", kind, label))
    return edges


def source_of(trigger: Trigger) -> str:
    """Return the source node a trigger listens to (``source:github`` etc.)."""
    return f"source:{trigger.kind}"


def flow_edges(specs: Mapping[str, AutomationSpec], vouched: Collection[str] = ()) -> list[Edge]:
    """Return every edge between the given automations and from the sources, deduplicated.

    ``vouched``: the approval labels the daemon vouches for (the policy's ``labels.ready``).
    """
    edges: list[Edge] = []
    for target, consumer in specs.items():
        for trigger in consumer.on:
            source = source_of(trigger)
            if not any(e.source == source and e.target == target for e in edges):
                edges.append(Edge(source, target, trigger.kind))
            for name, producer in specs.items():
                if name != target:
                    edges.extend(_trigger_edges(name, producer, trigger, target, vouched))
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for edge in edges:
        if (edge.source, edge.target, edge.via) not in seen:
            seen.add((edge.source, edge.target, edge.via))
            unique.append(edge)
    return unique
