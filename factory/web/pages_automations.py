"""The automations page (and ``.json``): prompt versions from the store, config from YAML.

Figures come from the store per (automation, content hash). When the viewer knows the
automations folder (daemon mode) it also shows each automation's current YAML, triggers,
next fire time and enabled state. "Run now" POSTs to ``/automations/{name}/run`` with a
CSRF token and calls the injected ``enqueue_manual``; without one the POST answers 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode
from zoneinfo import ZoneInfo

from croniter import croniter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from factory.config.automation import Automation
from factory.config.loader import load_factory
from factory.config.triggers import Trigger
from factory.errors import ConfigError
from factory.events import utcnow
from factory.store.outcome_stats import VersionOutcomes
from factory.store.stats import PromptVersion
from factory.web.context import Viewer, plain, viewer_of
from factory.web.csrf import FIELD, HEADER
from factory.web.shadows import shadow_comparisons

MAX_FORM_BYTES = 4096
"""The Run now form is tiny; anything past this is ignored."""


@dataclass(frozen=True)
class TriggerView:
    """One trigger as shown: its kind, its settings as text, and when it fires next."""

    kind: str
    detail: str
    next_fire: datetime | None


@dataclass(frozen=True)
class AutomationView:
    """One automation: its prompt versions and, in daemon mode, its current config."""

    name: str
    versions: list[PromptVersion]
    outcomes: dict[str, VersionOutcomes]
    """Outcome figures by content hash (only versions with a decided outcome)."""
    config: Automation | None
    triggers: list[TriggerView]
    csrf_token: str


def next_fire(trigger: Trigger, now: datetime) -> datetime | None:
    """Return when a schedule trigger fires next (cron: croniter; every: now + interval)."""
    schedule = trigger.schedule
    if schedule is None:
        return None
    if schedule.cron is not None:
        local = now.astimezone(ZoneInfo(schedule.timezone))
        fire = croniter(schedule.cron, local).get_next(datetime)
        assert isinstance(fire, datetime)
        return fire
    assert schedule.every is not None
    return now + timedelta(seconds=schedule.every)


def _trigger_view(trigger: Trigger, now: datetime) -> TriggerView:
    settings = getattr(trigger, trigger.kind)
    detail = settings.model_dump_json(exclude_defaults=True) if settings is not None else ""
    return TriggerView(trigger.kind, detail, next_fire(trigger, now))


def _load(viewer: Viewer) -> tuple[dict[str, Automation], str | None]:
    if viewer.automations_dir is None or viewer.harness_dir is None:
        return {}, None
    try:
        return load_factory(viewer.automations_dir, viewer.harness_dir).automations, None
    except ConfigError as exc:
        return {}, str(exc)


def automation_views(viewer: Viewer) -> tuple[list[AutomationView], str | None]:
    """Return every automation known from the store or the folder, and any config error."""
    configs, error = _load(viewer)
    versions: dict[str, list[PromptVersion]] = {}
    for version in viewer.stats.prompt_versions():
        versions.setdefault(version.automation, []).append(version)
    outcomes: dict[str, dict[str, VersionOutcomes]] = {}
    for figures in viewer.store.outcome_figures():
        outcomes.setdefault(figures.automation, {})[figures.content_hash] = figures
    now = utcnow()
    views = [
        AutomationView(
            name=name,
            versions=versions.get(name, []),
            outcomes=outcomes.get(name, {}),
            config=configs.get(name),
            triggers=[_trigger_view(t, now) for t in configs[name].on] if name in configs else [],
            csrf_token=viewer.csrf.token(f"run:{name}"),
        )
        for name in sorted(set(configs) | set(versions))
    ]
    return views, error


def _outcomes_dict(figures: VersionOutcomes | None) -> dict[str, Any] | None:
    if figures is None:
        return None
    found = figures.to_json()
    del found["automation"], found["content_hash"]
    return found


def _view_dict(view: AutomationView) -> dict[str, Any]:
    config = view.config
    return {
        "name": view.name,
        "enabled": config.enabled if config else None,
        "description": config.description if config else None,
        "content_hash": config.content_hash if config else None,
        "source_text": config.source_text if config else None,
        "triggers": [
            {"kind": t.kind, "detail": t.detail, "next_fire": t.next_fire} for t in view.triggers
        ],
        "versions": [
            {
                **v.__dict__,
                "success_rate": v.success_rate,
                "outcomes": _outcomes_dict(view.outcomes.get(v.content_hash)),
            }
            for v in view.versions
        ],
    }


async def automations_page(request: Request) -> Response:
    """GET /automations and /automations.json."""
    viewer = viewer_of(request)
    views, error = automation_views(viewer)
    configs = {v.name: v.config for v in views if v.config is not None}
    shadows = shadow_comparisons(viewer.store, configs)
    if request.url.path.endswith(".json"):
        return viewer.renderer.json(
            {"automations": [_view_dict(v) for v in views], "config_error": error}
            | {"shadows": shadows}
        )
    return viewer.renderer.html(
        "automations.html",
        views=views,
        shadows=shadows,
        config_error=error,
        daemon_mode=viewer.automations_dir is not None,
        csrf_field=FIELD,
    )


async def run_now(request: Request) -> Response:
    """POST /automations/{name}/run: queue a manual run, then show it (303 to its page).

    Answers 403 without a valid CSRF token, 409 when this viewer cannot queue runs.
    """
    viewer = viewer_of(request)
    name = request.path_params["name"]
    body = await request.body()
    form = dict(parse_qsl(body[:MAX_FORM_BYTES].decode("utf-8", "replace")))
    candidate = form.get(FIELD) or request.headers.get(HEADER)
    if not viewer.csrf.valid(f"run:{name}", candidate):
        return plain("forbidden: missing or wrong CSRF token", 403)
    if viewer.enqueue_manual is None:
        return plain(
            "this viewer runs standalone (no daemon): it cannot queue runs;"
            " use `factoryd run` or the daemon's viewer",
            409,
        )
    try:
        run_id = await run_in_threadpool(viewer.enqueue_manual, name)
    except ValueError as exc:  # unknown or disabled automation, or one that needs a subject
        return plain(f"cannot run {name}: {exc}", 409)
    target = f"/runs/{quote(run_id)}" if run_id else f"/runs?{urlencode({'automation': name})}"
    return RedirectResponse(target, status_code=303)


def routes() -> list[Route]:
    """Return this module's routes."""
    return [
        Route("/automations", automations_page),
        Route("/automations.json", automations_page),
        Route("/automations/{name}/run", run_now, methods=["POST"]),
    ]
