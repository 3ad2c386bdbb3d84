"""A subject's story (``/subjects/{key}`` and ``/subjects/{key}.json``): everything the store
knows about one piece of work — its Slack thread or Sentry issue, runs, outputs, pull
requests, merge, follow-ups — in time order, with the clock opened → first run → PR → merge
→ verified. Keys are subject keys: ``issue:12``, ``pull_request:7``, ``slack:C1/1712.0001``,
``sentry:123``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from factory.events import parse_subject_key
from factory.store.documents import run_dict
from factory.store.story import Story, StoryQueries
from factory.web.context import plain, viewer_of

JSON_SUFFIX = ".json"


def story_dict(story: Story) -> dict[str, Any]:
    """Return a story as a JSON-ready dict."""
    return {
        "key": story.key,
        "subjects": story.subjects,
        "origin": story.origin,
        "clock": [
            {"milestone": name, "at": stamp, "since_previous_s": gap}
            for name, stamp, gap in story.clock.steps()
        ],
        "entries": [dataclasses.asdict(e) for e in story.entries],
        "runs": [{**run_dict(r), "url": f"/runs/{r.id}"} for r in story.runs],
        "outputs": [dataclasses.asdict(o) for o in story.outputs],
        "total_cost_usd": story.total_cost_usd,
        "unknown": story.unknown,
    }


async def subject_page(request: Request) -> Response:
    """GET /subjects/{key} and its .json twin; 400 for a malformed key, 404 when the store
    knows nothing about the subject."""
    viewer = viewer_of(request)
    key = request.path_params["key"]
    as_json = key.endswith(JSON_SUFFIX)
    key = key.removesuffix(JSON_SUFFIX) if as_json else key
    try:
        parse_subject_key(key)
    except ValueError as exc:
        return plain(str(exc), 400)
    story = StoryQueries(viewer.store).story(key)
    status = 200 if story.found else 404
    if as_json:
        return viewer.renderer.json(story_dict(story), status_code=status)
    origin_entry = next(
        (e for e in story.entries if e.kind == "event" and e.subject_key == story.origin), None
    )
    return viewer.renderer.html(
        "subject.html", status_code=status, story=story, origin_entry=origin_entry
    )


def routes() -> list[Route]:
    """Return this module's routes."""
    return [Route("/subjects/{key:path}", subject_page)]
