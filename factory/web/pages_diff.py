"""Run against run (``/runs/{a}/diff/{b}`` and ``.json``): two runs side by side.

Each run carries the automation YAML it started with (``prompt_snapshot``) and its content
hash, so the YAML diff and the prompt diff (the ``prompt:`` value of each YAML) come from
the runs themselves. Figures: model, turns, tokens, cache share, cost, tools called (calls,
failures), outputs, outcome, and the first step where the conversations part.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from factory.config.yamlpos import parse_yaml
from factory.errors import RunNotFound
from factory.store.compare import CompareQueries, Divergence, ToolUse
from factory.store.documents import run_dict
from factory.store.records import OutputRecord, RunRecord
from factory.web.context import viewer_of

DIFF_CONTEXT = 3
"""Unchanged lines shown around each change."""


@dataclasses.dataclass(frozen=True)
class Side:
    """One run of the comparison and its figures."""

    run: RunRecord
    model: str | None
    prompt: str
    cache_share: float | None
    tools: list[ToolUse]
    outputs: list[OutputRecord]


def snapshot_fields(snapshot: str) -> tuple[str | None, str]:
    """Return (model, prompt) of a run's YAML snapshot; the whole text as the prompt when it
    is not an automation's YAML (never raises)."""
    doc, _ = parse_yaml(snapshot, "snapshot") if snapshot.strip() else (None, [])
    data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
    model, prompt = data.get("model"), data.get("prompt")
    return (
        model if isinstance(model, str) else None,
        prompt if isinstance(prompt, str) else snapshot,
    )


def cache_share(run: RunRecord) -> float | None:
    """Return the share of prompt tokens read from cache, None before any model call."""
    total = run.input_tokens + run.cache_read_tokens + run.cache_write_tokens
    return run.cache_read_tokens / total if total else None


def diff_lines(old: str, new: str, old_name: str, new_name: str) -> list[tuple[str, str]]:
    """Return a unified diff as (css class, line) pairs; empty when the texts are equal."""
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), old_name, new_name, n=DIFF_CONTEXT, lineterm=""
    )
    out: list[tuple[str, str]] = []
    for line in lines:
        if line.startswith(("---", "+++")):
            out.append(("meta", line))
        elif line.startswith("@@"):
            out.append(("hunk", line))
        elif line.startswith("+"):
            out.append(("add", line))
        elif line.startswith("-"):
            out.append(("del", line))
        else:
            out.append(("", line))
    return out


def _side(request: Request, run_id: str, compare: CompareQueries) -> Side:
    viewer = viewer_of(request)
    item = viewer.stats.get_run_item(run_id)
    if item is None:
        raise RunNotFound(run_id)
    run = item.run
    model, prompt = snapshot_fields(run.prompt_snapshot)
    return Side(
        run=run,
        model=model,
        prompt=prompt,
        cache_share=cache_share(run),
        tools=compare.tool_uses(run.id),
        outputs=viewer.store.outputs_for_run(run.id),
    )


def _side_dict(side: Side) -> dict[str, Any]:
    return {
        "run": run_dict(side.run),
        "url": f"/runs/{side.run.id}",
        "model": side.model,
        "cache_share": side.cache_share,
        "tools": [dataclasses.asdict(t) for t in side.tools],
        "outputs": [dataclasses.asdict(o) for o in side.outputs],
    }


def _divergence_dict(found: Divergence | None) -> dict[str, Any] | None:
    return None if found is None else dataclasses.asdict(found)


async def diff_page(request: Request) -> Response:
    """GET /runs/{a}/diff/{b} and .json. Answers 404 when either run is unknown."""
    viewer = viewer_of(request)
    compare = CompareQueries(viewer.store)
    b_id = request.path_params["b"]
    as_json = b_id.endswith(".json")
    b_id = b_id.removesuffix(".json")
    a, b = _side(request, request.path_params["a"], compare), _side(request, b_id, compare)
    names = (f"{a.run.id} ({a.run.content_hash[:12]})", f"{b.run.id} ({b.run.content_hash[:12]})")
    yaml_diff = diff_lines(a.run.prompt_snapshot, b.run.prompt_snapshot, *names)
    prompt_diff = diff_lines(a.prompt, b.prompt, *names)
    divergence = compare.first_divergence(a.run.id, b.run.id)
    tool_names = sorted({t.name for t in a.tools} | {t.name for t in b.tools})
    if as_json:
        return viewer.renderer.json(
            {
                "a": _side_dict(a),
                "b": _side_dict(b),
                "same_version": a.run.content_hash == b.run.content_hash,
                "yaml_diff": [line for _, line in yaml_diff],
                "prompt_diff": [line for _, line in prompt_diff],
                "first_divergence": _divergence_dict(divergence),
            }
        )
    return viewer.renderer.html(
        "run_diff.html",
        a=a,
        b=b,
        yaml_diff=yaml_diff,
        prompt_diff=prompt_diff,
        divergence=divergence,
        tool_names=tool_names,
        tools_a={t.name: t for t in a.tools},
        tools_b={t.name: t for t in b.tools},
    )


def routes() -> list[Route]:
    """Return this module's routes (before the runs module's, which match /runs/{id})."""
    return [Route("/runs/{a}/diff/{b}", diff_page)]
