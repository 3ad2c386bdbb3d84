"""JSON documents of runs and their steps, for the CLI's ``--json`` and the viewer's ``.json``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from factory.store.records import RunRecord, StepRecord


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def run_dict(run: RunRecord) -> dict[str, Any]:
    """Return one run as a JSON-ready dict (prompt snapshot left out: see ``show --json``)."""
    data = {k: _jsonable(v) for k, v in dataclasses.asdict(run).items()}
    data.pop("prompt_snapshot", None)
    data["duration_s"] = run.duration_s
    return data


def step_dict(step: StepRecord) -> dict[str, Any]:
    """Return one step as a JSON-ready dict, full payload included."""
    return {k: _jsonable(v) for k, v in dataclasses.asdict(step).items()}


def run_with_steps_dict(run: RunRecord, steps: Sequence[StepRecord]) -> dict[str, Any]:
    """Return a run, its prompt snapshot and all its steps as one JSON-ready dict."""
    data = run_dict(run)
    data["prompt_snapshot"] = run.prompt_snapshot
    data["steps"] = [step_dict(s) for s in steps]
    return data
