"""The automations graph with staged automations and shadows: staged outputs make no edge."""

from __future__ import annotations

from typing import Any

from factory.config.automation import AutomationSpec
from factory.web.flow import flow_edges

TRIAGE: dict[str, Any] = {
    "name": "triage",
    "on": [{"manual": {}}],
    "outputs": {"add_labels": {"allowed": ["factory:ready"]}},
    "prompt": "p",
}
BUILDER: dict[str, Any] = {
    "name": "builder",
    "on": [{"github": {"event": "issues.labeled", "label": "factory:ready"}}],
    "prompt": "p",
}


def _spec(data: dict[str, Any], **extra: Any) -> AutomationSpec:
    return AutomationSpec.model_validate({**data, **extra})


def _edges_between(specs: dict[str, AutomationSpec]) -> list[tuple[str, str]]:
    return [(e.source, e.target) for e in flow_edges(specs) if not e.source.startswith("source:")]


def test_live_label_output_feeds_the_builder() -> None:
    """A live add_labels output with the builder's label is an edge into the builder."""
    specs = {"triage": _spec(TRIAGE), "builder": _spec(BUILDER)}
    assert _edges_between(specs) == [("triage", "builder")]


def test_staged_automation_feeds_nothing() -> None:
    """A staged automation writes nothing, so it is an edge into no automation."""
    specs = {"triage": _spec(TRIAGE, staged=True), "builder": _spec(BUILDER)}
    assert _edges_between(specs) == []


def test_staged_output_kind_feeds_nothing() -> None:
    """A staged output kind is an edge into no automation."""
    staged = {**TRIAGE, "outputs": {"add_labels": {"allowed": ["factory:ready"], "staged": True}}}
    assert _edges_between({"triage": _spec(staged), "builder": _spec(BUILDER)}) == []
