"""The runs list and one run's transcript, each with its ``.json`` twin, and live fragments.

Live parts poll with htmx: the runs table re-fetches its rows every 2 s while a row is
queued or running; a running run's page fetches ``/runs/{id}/steps?after=<seq>`` every
second and appends what came back (the fragment carries the next poller, or none once
the run finished). Each poll is index lookups only: the steps after the last seq seen
(uq_steps_run_seq), runs by (status, id) or (automation, id) (tests/web/test_live.py).
Steps come STEP_PAGE at a time, so a run of any length renders as fast as one page.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from factory.errors import RunNotFound
from factory.store.compare import CompareQueries
from factory.store.documents import run_dict
from factory.store.stats import RunFilter, RunItem, StepSummary
from factory.store.tables import RUN_STATUSES
from factory.web.context import plain, viewer_of
from factory.web.staged import would_have
from factory.web.steps import LOAD_LIMIT, TEXT_LIMIT, scrub_cut, step_view

PAGE_SIZE = 50
STEP_PAGE = 500
"""Steps per run page, per steps fragment and per run JSON."""
LIVE_STATUSES = ("queued", "running")
SOURCES = ("github", "sentry", "slack", "schedule", "manual", "none")
FILTER_KEYS = ("automation", "status", "subject", "source", "date")
STEP_FIELDS = tuple(f.name for f in dataclasses.fields(StepSummary) if f.name != "id")


class FilterError(ValueError):
    """A query parameter of the runs list is not valid."""


def parse_filter(params: Any, *, limit: int = PAGE_SIZE) -> RunFilter:
    """Return the RunFilter for a request's query parameters. Raises FilterError."""
    values = {k: (params.get(k) or "").strip() or None for k in (*FILTER_KEYS, "before")}
    day: date | None = None
    if values["date"]:
        try:
            day = date.fromisoformat(values["date"])
        except ValueError:
            raise FilterError(f"date {values['date']!r} is not YYYY-MM-DD") from None
    if values["status"] and values["status"] not in RUN_STATUSES:
        raise FilterError(f"status {values['status']!r} is not one of {', '.join(RUN_STATUSES)}")
    return RunFilter(
        automation=values["automation"],
        status=values["status"],
        subject=values["subject"],
        source=values["source"],
        day=day,
        before=values["before"],
        limit=limit,
    )


def item_dict(item: RunItem) -> dict[str, Any]:
    """Return one listed run as a JSON-ready dict."""
    data = run_dict(item.run)
    data.update(
        source=item.source,
        event_kind=item.event_kind,
        subject_title=item.subject_title,
        subject_url=item.subject_url,
        url=f"/runs/{item.run.id}",
    )
    return data


def _query(params: Any, **override: str | None) -> str:
    pairs = {k: params.get(k) for k in FILTER_KEYS if params.get(k)}
    pairs.update({k: v for k, v in override.items() if v})
    return urlencode(pairs)


async def runs_page(request: Request) -> Response:
    """GET /runs and /runs.json: newest first, filtered, keyset-paginated by ``before``."""
    viewer = viewer_of(request)
    as_json = request.url.path.endswith(".json")
    try:
        flt = parse_filter(request.query_params)
    except FilterError as exc:
        return plain(str(exc), 400)
    items = viewer.stats.list_runs(flt)
    next_before = items[-1].run.id if len(items) == flt.limit else None
    if as_json:
        return viewer.renderer.json(
            {"runs": [item_dict(i) for i in items], "next_before": next_before}
        )
    return viewer.renderer.html(
        "runs.html",
        items=items,
        flt=flt,
        params=request.query_params,
        automations=viewer.stats.automation_names(),
        statuses=RUN_STATUSES,
        sources=SOURCES,
        live=any(i.run.status in LIVE_STATUSES for i in items),
        rows_query=_query(request.query_params, before=flt.before),
        next_query=_query(request.query_params, before=next_before) if next_before else None,
        disk=viewer.disk_status() if viewer.disk_status else None,
    )


async def runs_rows(request: Request) -> Response:
    """GET /runs/rows: the runs table body alone (what the 2 s poller swaps in)."""
    viewer = viewer_of(request)
    try:
        flt = parse_filter(request.query_params)
    except FilterError as exc:
        return plain(str(exc), 400)
    items = viewer.stats.list_runs(flt)
    return viewer.renderer.html(
        "runs_rows.html",
        items=items,
        live=any(i.run.status in LIVE_STATUSES for i in items),
        rows_query=_query(request.query_params, before=flt.before),
    )


def _run_item(request: Request) -> RunItem:
    run_id = request.path_params["run_id"]
    item = viewer_of(request).stats.get_run_item(run_id)
    if item is None:
        raise RunNotFound(run_id)
    return item


def _step_page(request: Request, run_id: str, after: int) -> tuple[list[StepSummary], bool]:
    """Return up to STEP_PAGE steps after seq ``after``, and whether more follow."""
    summaries = viewer_of(request).stats.step_summaries(
        run_id, after_seq=after, text_limit=LOAD_LIMIT, limit=STEP_PAGE + 1
    )
    return summaries[:STEP_PAGE], len(summaries) > STEP_PAGE


def _after(request: Request) -> int:
    """Return the ``after`` query parameter (a step seq, 0 by default). Raises ValueError."""
    after = int(request.query_params.get("after", "0"))
    if after < 0:
        raise ValueError(after)
    return after


async def run_page(request: Request) -> Response:
    """GET /runs/{id} and /runs/{id}.json: header, prompt snapshot, steps, outputs.

    Steps come STEP_PAGE at a time: the page loads the next ones as soon as it is shown
    (htmx ``load``), the JSON names ``next_after`` to pass as ``?after=`` for the rest.
    """
    viewer = viewer_of(request)
    item = _run_item(request)
    run = item.run
    try:
        after = _after(request)
    except ValueError:
        return plain("after must be a step number", 400)
    summaries, more = _step_page(request, run.id, after)
    outputs = viewer.store.outputs_for_run(run.id)
    last_seq = summaries[-1].seq if summaries else after
    if request.url.path.endswith(".json"):
        data = item_dict(item)
        data["prompt_snapshot"] = run.prompt_snapshot
        data["outputs"] = [dataclasses.asdict(o) for o in outputs]
        data["would_have"] = would_have(outputs)
        data["steps"] = [
            {
                **{k: getattr(s, k) for k in STEP_FIELDS},
                "text": scrub_cut(s.text, TEXT_LIMIT),
                "text_truncated": s.text_length > TEXT_LIMIT,
                "raw_url": f"/runs/{run.id}/steps/{s.seq}.json",
            }
            for s in summaries
        ]
        data["next_after"] = last_seq if more else None
        return viewer.renderer.json(data)
    return viewer.renderer.html(
        "run.html",
        item=item,
        run=run,
        steps=[step_view(s) for s in summaries],
        outputs=outputs,
        would_have=would_have(outputs),
        live=run.status in LIVE_STATUSES,
        more=more,
        after=after,
        last_seq=last_seq,
        event=viewer.store.get_event(run.event_id) if run.event_id is not None else None,
        previous_version=CompareQueries(viewer.store).previous_version_run(run),
    )


async def run_steps(request: Request) -> Response:
    """GET /runs/{id}/steps?after=<seq>: the next steps as HTML, then the next loader: at
    once while more are stored, every second while the run is live, none once it ended."""
    viewer = viewer_of(request)
    item = _run_item(request)
    try:
        after = _after(request)
    except ValueError:
        return plain("after must be a step number", 400)
    summaries, more = _step_page(request, item.run.id, after)
    return viewer.renderer.html(
        "run_steps.html",
        run=item.run,
        steps=[step_view(s) for s in summaries],
        live=item.run.status in LIVE_STATUSES,
        more=more,
        last_seq=summaries[-1].seq if summaries else after,
        oob=True,
    )


async def step_raw(request: Request) -> Response:
    """GET /runs/{id}/steps/{seq}.json: one step whole, payload included (scrubbed)."""
    viewer = viewer_of(request)
    try:
        seq = int(request.path_params["seq"])
    except ValueError:
        return plain("step number must be an integer", 400)
    step = viewer.stats.get_step(request.path_params["run_id"], seq)
    return viewer.renderer.json(dataclasses.asdict(step))


def routes() -> list[Route]:
    """Return this module's routes (order matters: the .json and fixed paths come first)."""
    return [
        Route("/runs", runs_page),
        Route("/runs.json", runs_page),
        Route("/runs/rows", runs_rows),
        Route("/runs/{run_id}.json", run_page),
        Route("/runs/{run_id}", run_page),
        Route("/runs/{run_id}/steps", run_steps),
        Route("/runs/{run_id}/steps/{seq}.json", step_raw),
    ]
