"""The search page (and ``.json``): conversation text, subjects, errors.

``/search?q=words`` searches step text (FTS5); ``&in=subject`` matches subject keys and
titles; ``&in=error`` matches run errors and stop reasons. Snippets are cut here from
the step's whole text after it was scrubbed, so a cut can never leave half a secret.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from factory.logs import redactor
from factory.store.search import StepHit
from factory.web.context import plain, viewer_of
from factory.web.pages_runs import STEP_PAGE, item_dict

SCOPES = ("text", "subject", "error")
MAX_QUERY = 500
BEFORE, AFTER = 80, 220
"""Characters of context kept before and after the first match."""


def snippet_parts(text: str, words: str) -> list[tuple[bool, str]]:
    """Return (is_match, text) parts of a snippet around the first match, scrubbed first."""
    clean = redactor.scrub(text)
    terms = [re.escape(t) for t in re.findall(r"[^\s\"]+", words)]
    if not terms:
        return [(False, clean[: BEFORE + AFTER])]
    pattern = re.compile("|".join(terms), re.IGNORECASE)
    first = pattern.search(clean)
    start = max((first.start() if first else 0) - BEFORE, 0)
    window = clean[start : start + BEFORE + AFTER]
    window = ("…" if start else "") + window + ("…" if start + BEFORE + AFTER < len(clean) else "")
    parts: list[tuple[bool, str]] = []
    last = 0
    for match in pattern.finditer(window):
        parts += [(False, window[last : match.start()]), (True, match.group())]
        last = match.end()
    parts.append((False, window[last:]))
    return [p for p in parts if p[1]]


def step_url(hit: StepHit) -> str:
    """Return the link to a hit's step: on the run page's first page of steps, or on the
    page of steps that starts with it (the run page shows STEP_PAGE steps at a time)."""
    if hit.seq <= STEP_PAGE:
        return f"/runs/{hit.run_id}#step-{hit.seq}"
    return f"/runs/{hit.run_id}?after={hit.seq - 1}#step-{hit.seq}"


def _hit_dict(hit: StepHit, q: str) -> dict[str, object]:
    return {
        "run_id": hit.run_id,
        "automation": hit.automation,
        "seq": hit.seq,
        "kind": hit.kind,
        "snippet": "".join(text for _m, text in snippet_parts(hit.text, q)),
        "url": step_url(hit),
    }


async def search_page(request: Request) -> Response:
    """GET /search and /search.json."""
    viewer = viewer_of(request)
    q = request.query_params.get("q", "")[:MAX_QUERY]
    scope = request.query_params.get("in", "text")
    if scope not in SCOPES:
        return plain(f"in must be one of {', '.join(SCOPES)}", 400)
    hits = viewer.search.steps(q) if scope == "text" else []
    items = []
    if scope == "subject":
        items = viewer.search.runs_by_subject(q)
    elif scope == "error":
        items = viewer.search.runs_by_error(q)
    if request.url.path.endswith(".json"):
        return viewer.renderer.json(
            {
                "q": q,
                "in": scope,
                "steps": [_hit_dict(h, q) for h in hits],
                "runs": [item_dict(i) for i in items],
            }
        )
    return viewer.renderer.html(
        "search.html",
        q=q,
        scope=scope,
        scopes=SCOPES,
        hits=[(h, snippet_parts(h.text, q), step_url(h)) for h in hits],
        items=items,
    )


def routes() -> list[Route]:
    """Return this module's routes."""
    return [Route("/search", search_page), Route("/search.json", search_page)]
