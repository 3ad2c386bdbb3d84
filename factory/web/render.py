"""Rendering for every page: one Jinja2 environment (autoescape on) and JSON twins.

Every string that reaches a page or a JSON answer passes ``redactor.scrub`` on the way
out (Jinja's ``finalize`` for templates, a deep walk for JSON): a belt on top of the
write-time redaction, so a secret that slipped into a stored step is still never served.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, Response

from factory.logs import redactor

TEMPLATES = Path(__file__).resolve().parent / "templates"


def scrub_deep(value: Any) -> Any:
    """Return ``value`` (JSON-like, dataclasses, datetimes) with every string scrubbed."""
    if isinstance(value, str):
        return redactor.scrub(value)
    if value is None or type(value) in (int, float, bool):  # the common case, checked early
        return value
    if isinstance(value, dict):
        return {redactor.scrub(str(k)): scrub_deep(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_deep(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return scrub_deep(dataclasses.asdict(value))
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redactor.scrub(str(value))


def _finalize(value: Any) -> Any:
    return redactor.scrub(value) if isinstance(value, str) else value


def money(value: float | None) -> str:
    """Return USD as "$1.23" (four decimals under a cent), "-" for None."""
    if value is None:
        return "-"
    return f"${value:.4f}" if 0 < abs(value) < 0.01 else f"${value:.2f}"


def duration(seconds: float | None) -> str:
    """Return seconds as "42s", "3m 12s", "2h 5m" or "-"."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def when(value: datetime | None) -> str:
    """Return a UTC timestamp as "YYYY-MM-DD HH:MM:SS", "-" for None."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def percent(value: float | None) -> str:
    """Return a share as "87%", "-" for None."""
    return "-" if value is None else f"{value * 100:.0f}%"


def href(url: str | None) -> str:
    """Return ``url`` when it is http(s), else "#": no javascript: or data: links from data."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return "#"


def make_environment() -> Environment:
    """Return the viewer's Jinja2 environment: autoescape everywhere, scrubbed output."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(money=money, duration=duration, when=when, percent=percent, href=href)
    return env


class Renderer:
    """Renders templates to HTML responses and data to scrubbed JSON responses."""

    def __init__(self, base_context: dict[str, Any] | None = None) -> None:
        self.env = make_environment()
        self.base_context = base_context or {}

    def html(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """Return the rendered template as an HTML response."""
        body = self.env.get_template(template).render(**self.base_context, **context)
        return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)

    @staticmethod
    def json(data: Any, status_code: int = 200) -> Response:
        """Return ``data`` scrubbed and serialized as a JSON response."""
        body = json.dumps(scrub_deep(data), ensure_ascii=False, separators=(",", ":"))
        # Markup characters as \u escapes: the same data, but never HTML if a browser sniffs.
        body = body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return Response(
            body, status_code=status_code, media_type="application/json", headers=SECURITY_HEADERS
        )


SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Headers on every page: no inline script can run even if escaping were ever missed."""
