"""``SentryClient``: Sentry's REST API over httpx, with its pagination and rate limits.

Lists are paginated by the ``Link`` header: a ``previous`` and a ``next`` link, each with
``results="true|false"`` and ``cursor="…"``. ``rel="next"`` is always present, so the end
of a listing is ``results="false"``, never a missing link. Sentry answers 429 with
``Retry-After`` when a rate limit is hit, and every answer carries
``X-Sentry-Rate-Limit-Remaining`` / ``-Reset``: the client waits (up to ``max_wait_s``)
for a 429's ``Retry-After``, or for the reset when a previous answer left no requests,
and raises SentryError beyond that. Every error carries the path and Sentry's ``detail``.
The token goes in the ``Authorization`` header only; it never reaches an error or a log.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import structlog

from factory.errors import SentryError

log = structlog.get_logger(__name__)

NOTE_PAGES = 10
"""Pages of an issue's notes searched for a marked note at most."""

MAX_WAIT_S = 30.0
"""The longest the client sleeps for one rate-limit wait before giving up."""
EVENT_CHOICES = ("latest", "oldest", "recommended")
"""Which of an issue's events ``latest_event`` may fetch."""

_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[a-zA-Z_]+\s*=\s*\"[^\"]*\")*)")
_PARAM = re.compile(r"([a-zA-Z_]+)\s*=\s*\"([^\"]*)\"")
_ISSUE_ID = re.compile(r"[0-9]+")


def parse_link(header: str | None) -> dict[str, dict[str, str]]:
    """Return the links of a ``Link`` header by ``rel``: {rel: {"url", "results", "cursor"}}.

    A missing or empty header gives {}; a link without ``rel`` is skipped.
    """
    links: dict[str, dict[str, str]] = {}
    for match in _LINK.finditer(header or ""):
        params = dict(_PARAM.findall(match.group(2)))
        rel = params.pop("rel", None)
        if rel:
            links[rel] = {"url": match.group(1), **params}
    return links


def next_cursor(header: str | None) -> str | None:
    """Return the cursor of the next page, or None when ``rel="next"`` says
    ``results="false"`` (or there is no next link)."""
    nxt = parse_link(header).get("next")
    if nxt is None or nxt.get("results") != "true":
        return None
    return nxt.get("cursor") or None


class SentryClient:
    """One organization's Sentry REST API, authenticated with a Bearer token."""

    def __init__(
        self,
        api_url: str,
        token: str,
        org: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 30.0,
        max_wait_s: float = MAX_WAIT_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Talk to ``api_url`` (ending in ``/api/0/``) for organization ``org``.

        Raises ValueError for an empty token or org, or a negative ``max_wait_s``.
        """
        if not token:
            raise ValueError("a Sentry auth token is required")
        if not org:
            raise ValueError("a Sentry organization slug is required")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must not be negative, got {max_wait_s}")
        self.org = org
        self.max_wait_s = max_wait_s
        self._sleep = sleep
        self._resume_at = 0.0
        self._http = httpx.Client(
            base_url=api_url if api_url.endswith("/") else api_url + "/",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            transport=transport,
            timeout=timeout_s,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- reads -------------------------------------------------------------------------

    def issues(
        self,
        project: str | None,
        query: str,
        cursor: str | None = None,
        *,
        sort: str = "date",
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Return one page of the organization's issues matching ``query`` and the next
        page's cursor (None on the last page). ``project`` is a project slug or id (None:
        every project); ``sort`` ``date`` orders by lastSeen, newest first. Raises
        SentryError."""
        params: dict[str, str | int] = {"query": query, "sort": sort, "limit": limit}
        if project and project.isdigit():
            params["project"] = project  # the endpoint's ``project`` takes ids only
        elif project:
            params["query"] = f"{query} project:{project}".strip()
        if cursor:
            params["cursor"] = cursor
        response = self._request("GET", f"organizations/{self.org}/issues/", params=params)
        body = response.json()
        if not isinstance(body, list):
            raise SentryError(response.url.path, response.status_code, "expected a list")
        return body, next_cursor(response.headers.get("link"))

    def issue(self, issue_id: str) -> dict[str, Any]:
        """Return one issue; raises SentryError (404 for an unknown id)."""
        return self._object("GET", self._issue_path(issue_id), issue_id)

    def latest_event(self, issue_id: str, which: str = "latest") -> dict[str, Any]:
        """Return the issue's ``latest`` (or ``oldest`` / ``recommended``) event.

        Raises ValueError for another ``which``; SentryError when Sentry refuses.
        """
        if which not in EVENT_CHOICES:
            raise ValueError(f"which must be one of {', '.join(EVENT_CHOICES)}, got {which!r}")
        return self._object("GET", f"{self._issue_path(issue_id)}events/{which}/", issue_id)

    # -- writes ------------------------------------------------------------------------

    def update_issue(self, issue_id: str, **fields: Any) -> dict[str, Any]:
        """PUT ``fields`` (``status``, ``statusDetails``, ``assignedTo``, …) on the issue;
        return the updated issue. Raises SentryError."""
        return self._object("PUT", self._issue_path(issue_id), issue_id, json=fields)

    def comment(self, issue_id: str, text: str) -> dict[str, Any]:
        """Add a comment (a note) to the issue; return it. Raises SentryError."""
        return self._object(
            "POST", f"{self._issue_path(issue_id)}comments/", issue_id, json={"text": text}
        )

    def comments(
        self, issue_id: str, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Return one page of the issue's comments (notes, newest first) and the next page's
        cursor (None on the last page). Raises SentryError."""
        params: dict[str, str | int] = {"cursor": cursor} if cursor else {}
        path = f"{self._issue_path(issue_id)}comments/"
        response = self._request("GET", path, params=params, issue_id=issue_id)
        body = response.json()
        if not isinstance(body, list):
            raise SentryError(path, response.status_code, "expected a list", issue_id=issue_id)
        return body, next_cursor(response.headers.get("link"))

    def find_note(self, issue_id: str, marked: Callable[[str], bool]) -> dict[str, Any] | None:
        """Return the first note (newest first, at most ``NOTE_PAGES`` pages) whose text
        ``marked`` accepts, or None. Raises SentryError."""
        cursor: str | None = None
        for _ in range(NOTE_PAGES):
            notes, cursor = self.comments(issue_id, cursor)
            for note in notes:
                data = note.get("data")
                if isinstance(data, dict) and marked(str(data.get("text") or "")):
                    return dict(note)
            if cursor is None:
                break
        return None

    # -- plumbing ----------------------------------------------------------------------

    def _issue_path(self, issue_id: str) -> str:
        if not _ISSUE_ID.fullmatch(str(issue_id)):
            raise ValueError(f"a Sentry issue id is digits, got {issue_id!r}")
        return f"organizations/{self.org}/issues/{issue_id}/"

    def _object(self, method: str, path: str, issue_id: str, *, json: Any = None) -> dict[str, Any]:
        response = self._request(method, path, json=json, issue_id=issue_id)
        body = response.json()
        if not isinstance(body, dict):
            raise SentryError(path, response.status_code, "expected an object", issue_id=issue_id)
        return body

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        json: Any = None,
        issue_id: str | None = None,
    ) -> httpx.Response:
        """Send one request, waiting out rate limits up to ``max_wait_s`` in all; return a 2xx.

        Raises SentryError for any other answer, or for a transport failure (status 0).
        """
        waited = 0.0
        while True:
            waited += self._wait_for_reset(path, issue_id, self.max_wait_s - waited)
            try:
                response = self._http.request(method, path, params=params, json=json)
            except httpx.HTTPError as exc:
                raise SentryError(path, 0, type(exc).__name__, issue_id=issue_id) from None
            self._note_limits(response)
            if response.status_code == 429:
                wait = _retry_after(response)
                if waited + wait > self.max_wait_s:
                    raise SentryError(
                        path, 429, _detail(response), issue_id=issue_id, retry_after=wait
                    )
                log.info("sentry_rate_limited", path=path, wait_s=wait)
                self._sleep(wait)
                waited += wait
                self._resume_at = 0.0  # Retry-After is the answer to this 429's reset
                continue
            if response.status_code >= 300:
                raise SentryError(path, response.status_code, _detail(response), issue_id=issue_id)
            return response

    def _note_limits(self, response: httpx.Response) -> None:
        """Remember when requests may resume if this answer left none remaining."""
        remaining = response.headers.get("x-sentry-rate-limit-remaining")
        reset = response.headers.get("x-sentry-rate-limit-reset")
        if remaining is not None and remaining.strip() == "0" and reset is not None:
            try:
                self._resume_at = float(reset)
            except ValueError:
                self._resume_at = 0.0

    def _wait_for_reset(self, path: str, issue_id: str | None, budget: float) -> float:
        """Sleep until the reset a previous answer announced; return the seconds slept.

        Raises SentryError(429) when that is longer than ``budget``."""
        wait = self._resume_at - time.time()
        if wait <= 0:
            return 0.0
        if wait > budget:
            raise SentryError(
                path, 429, "rate limit exhausted", issue_id=issue_id, retry_after=wait
            )
        log.info("sentry_rate_limit_wait", path=path, wait_s=round(wait, 1))
        self._sleep(wait)
        self._resume_at = 0.0
        return wait


def _retry_after(response: httpx.Response) -> float:
    """Seconds a 429 asks to wait: ``Retry-After``, else the reset, else one second."""
    value = response.headers.get("retry-after")
    try:
        if value is not None:
            return max(0.0, float(value))
        reset = response.headers.get("x-sentry-rate-limit-reset")
        if reset is not None:
            return max(0.0, float(reset) - time.time())
    except ValueError:
        pass
    return 1.0


def _detail(response: httpx.Response) -> str:
    """Return Sentry's ``detail`` text (or the start of the body), capped."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])[:300]
    return str(body)[:300]
