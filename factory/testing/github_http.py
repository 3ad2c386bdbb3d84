"""The fake GitHub's HTTP layer: routing, auth, rate-limit headers, errors, pagination.

Requests are served by a stdlib ThreadingHTTPServer on 127.0.0.1 and handled one
at a time under ``Hub.lock``, so each request sees and leaves a consistent state.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import structlog

from factory.testing.github_limits import Caller, Quota, RateLimits
from factory.testing.github_model import ApiError, Repo, Token, not_found
from factory.testing.github_state import Hub

log = structlog.get_logger(__name__)

_REPOSITORIES = re.compile(r"^/repositories/(\d+)(/.*)?$")
_REPOS = re.compile(r"^/repos/([^/]+)/([^/]+)(/.*)?$")


@dataclass
class Request:
    """One parsed API request, with the caller and (for repo routes) the repo resolved."""

    method: str
    path: str
    subpath: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    hub: Hub
    token: Token | None
    bearer: str | None
    repo_or_none: Repo | None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def login(self) -> str:
        """Return the caller's login; raises ApiError 401 for anonymous callers."""
        if self.token is None:
            raise ApiError(401, "Requires authentication")
        return self.token.login

    @property
    def repo(self) -> Repo:
        """Return the repo of a repo route (routes under /repos/{o}/{r} always have one)."""
        if self.repo_or_none is None:
            raise not_found()
        return self.repo_or_none

    def arg(self, name: str, default: str | None = None) -> str | None:
        """Return the first value of query parameter ``name``, or ``default``."""
        values = self.query.get(name)
        return values[0] if values else default

    def data(self) -> dict[str, Any]:
        """Return the JSON object body; raises ApiError 400 when it is not an object."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise ApiError(400, "Problems parsing JSON")
        return self.body


@dataclass
class Reply:
    """What a route answers: status, a JSON-able body (or text/bytes) and extra headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


Handler = Callable[[Request], Reply]


@dataclass(frozen=True)
class Route:
    """One endpoint: method, path pattern (repo-relative when ``repo``) and handler."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    repo: bool


class Router:
    """An ordered list of routes, filled by the route modules' ``@router.get(...)``."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, repo: bool = True) -> Callable[[Handler], Handler]:
        """Register the decorated handler for ``method`` and the full-match ``pattern``."""

        def deco(fn: Handler) -> Handler:
            self.routes.append(Route(method, re.compile(f"^{pattern}$"), fn, repo))
            return fn

        return deco


def paginate(req: Request, items: list[Any]) -> Reply:
    """Return one page of ``items`` per ``per_page``/``page``, with GitHub's ``Link`` header."""
    try:
        per_page = min(max(int(req.arg("per_page", "30") or 30), 1), 100)
        page = max(int(req.arg("page", "1") or 1), 1)
    except ValueError as exc:
        raise ApiError(422, "Invalid page or per_page") from exc
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = items[(page - 1) * per_page : page * per_page]
    return Reply(body=chunk, headers=link_header(req, page, last))


def link_header(req: Request, page: int, last: int) -> dict[str, str]:
    """Return ``{"Link": ...}`` for ``page`` of ``last`` (empty when there is one page)."""
    if last <= 1 and page <= 1:
        return {}
    if req.repo_or_none is not None:
        base = f"{req.hub.render.api}/repositories/{req.repo_or_none.id}{req.subpath}"
    else:
        base = f"{req.hub.render.api}{req.path}"
    pairs = [(k, v) for k, vs in req.query.items() if k != "page" for v in vs]

    def url(n: int) -> str:
        return f"{base}?{urlencode([*pairs, ('page', str(n))], safe=':/')}"

    rels: list[tuple[int, str]] = []
    if page > 1:
        rels.append((page - 1, "prev"))
    if page < last:
        rels += [(page + 1, "next"), (last, "last")]
    if page > 1:
        rels.append((1, "first"))
    return {"Link": ", ".join(f'<{url(n)}>; rel="{rel}"' for n, rel in rels)} if rels else {}


class App:
    """Dispatches requests to routes and dresses replies the way GitHub does."""

    def __init__(self, hub: Hub, router: Router) -> None:
        self.hub = hub
        self.router = router
        self.limits = RateLimits()
        self.request_log: list[tuple[str, str, int]] = []
        self.jwt_check: Callable[[str], int | None] | None = None

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        """Answer one request; never raises (errors become GitHub error replies)."""
        split = urlsplit(target)
        path = split.path.rstrip("/") or "/"
        resource = "search" if path.startswith("/search/") else "core"
        quota: Quota | None = None
        try:
            with self.hub.lock:
                token, bearer = self._auth(headers)
                user = self.hub.users.get(token.login) if token is not None else None
                caller = Caller.of(token, user.id if user else None, bearer)
                quota = self.limits.quota(caller, resource)
                refusal = self.limits.refusal(caller, resource, quota)
                if refusal is not None:
                    raise refusal
                reply = self._route(method, path, split.query, headers, raw, token, bearer)
        except ApiError as err:
            reply = Reply(err.status, err.body(), dict(err.headers))
        with self.hub.lock:
            self._dress(reply, method, headers, quota, resource)
        self.request_log.append((method, target, reply.status))
        return reply

    def _auth(self, headers: dict[str, str]) -> tuple[Token | None, str | None]:
        value = headers.get("authorization", "")
        if not value:
            return None, None
        scheme, _, secret = value.partition(" ")
        if scheme.lower() == "bearer" and secret.count(".") == 2 and secret not in self.hub.tokens:
            return None, secret
        token = self.hub.tokens.get(secret.strip())
        if token is None or (
            token.expires_at is not None and token.expires_at.timestamp() < time.time()
        ):
            raise ApiError(401, "Bad credentials")
        return token, None

    def _route(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        raw: bytes,
        token: Token | None,
        bearer: str | None,
    ) -> Reply:
        by_id = _REPOSITORIES.match(path)
        if by_id:
            target = self.hub.repo_by_id(int(by_id.group(1)))
            path = f"/repos/{target.full_name}{by_id.group(2) or ''}"
        repo_match = _REPOS.match(path)
        repo = self.hub.repo(f"{repo_match[1]}/{repo_match[2]}") if repo_match else None
        subpath = (repo_match[3] or "") if repo_match else path
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError as exc:
            raise ApiError(400, "Problems parsing JSON") from exc
        for route in self.router.routes:
            if route.method != method or route.repo != (repo is not None):
                continue
            match = route.pattern.match(subpath)
            if match is None:
                continue
            req = Request(
                method,
                path,
                subpath,
                parse_qs(query, keep_blank_values=True),
                headers,
                body,
                self.hub,
                token,
                bearer,
                repo,
                match.groupdict(),
            )
            return route.handler(req)
        raise not_found()

    def _dress(
        self,
        reply: Reply,
        method: str,
        headers: dict[str, str],
        quota: Quota | None,
        resource: str,
    ) -> None:
        if quota is None:  # refused before the caller was known (bad credentials)
            quota = self.limits.quota(Caller.of(None, None, None), resource)
        base = {
            "x-github-request-id": uuid.uuid4().hex[:8].upper() + ":FAKE",
            "x-github-media-type": "github.v3; format=json",
            "x-accepted-oauth-scopes": "repo",
            "x-oauth-scopes": "repo",
        }
        if reply.status == 200 and method == "GET" and reply.body is not None:
            payload = encode(reply)
            etag = '"' + hashlib.sha256(payload).hexdigest()[:32] + '"'
            base["etag"] = etag
            if headers.get("if-none-match") == etag:
                reply.status, reply.body = 304, None
        if "x-ratelimit-remaining" not in {k.lower() for k in reply.headers}:
            self.limits.count(quota, reply.status)
        reply.headers = {
            **base,
            **quota.headers(resource),
            **{k.lower(): v for k, v in reply.headers.items()},
        }


def encode(reply: Reply) -> bytes:
    """Return the reply body as bytes (JSON-encoded unless it is already text/bytes)."""
    if reply.body is None:
        return b""
    if isinstance(reply.body, bytes):
        return reply.body
    if isinstance(reply.body, str) and not reply.content_type.startswith("application/json"):
        return reply.body.encode()
    return json.dumps(reply.body).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body leave in one write (no delayed-ACK stall)

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.app.handle(self.command, self.path, headers, raw)
        data = encode(reply) if reply.status not in (204, 304) else b""
        self.send_response(reply.status)
        if data:
            self.send_header("content-type", reply.content_type)
        self.send_header("content-length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake_github_request", line=format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: App


def make_server(app: App) -> ThreadingHTTPServer:
    """Return a server bound to a free port on 127.0.0.1 that serves ``app``."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.app = app
    return server
