"""FakeSlack's Web API over HTTP: auth, injected failures, form/JSON bodies, file downloads.

Slack answers errors as HTTP 200 ``{"ok": false, "error": ...}``; only rate limiting is
HTTP 429 with ``Retry-After``. Tokens come in ``Authorization: Bearer``; the bot token
(xoxb-) works for the Web API, only the app token (xapp-) for apps.connections.open.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from factory.testing.slack_state import JSON, SlackError, Workspace

Method = Callable[["Call"], JSON]


@dataclass
class Call:
    """One Web API request: the method name, its merged params and the caller's token kind."""

    method: str
    params: dict[str, Any]
    workspace: Workspace

    def arg(self, name: str) -> str | None:
        """Return param ``name`` as a string (None when absent or empty)."""
        value = self.params.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def need(self, name: str, missing: str = "invalid_arguments") -> str:
        """Return a required param; raises SlackError ``missing`` when absent."""
        value = self.arg(name)
        if value is None:
            raise SlackError(missing)
        return value

    def flag(self, name: str) -> bool:
        """Return a boolean param ("true"/"1"/true)."""
        value = self.params.get(name)
        return value is True or str(value).lower() in ("true", "1")


@dataclass
class Injections:
    """Failures queued per method: ``error`` codes and ``rate`` (Retry-After seconds)."""

    errors: dict[str, list[str]] = field(default_factory=dict)
    rate: dict[str, list[int]] = field(default_factory=dict)

    def pop_rate(self, method: str) -> int | None:
        """Return and consume the next Retry-After queued for ``method``."""
        queued = self.rate.get(method)
        return queued.pop(0) if queued else None

    def pop_error(self, method: str) -> str | None:
        """Return and consume the next error queued for ``method``."""
        queued = self.errors.get(method)
        return queued.pop(0) if queued else None


@dataclass
class WebApi:
    """Everything the HTTP handler needs: state, tokens, methods, injections, the call log."""

    workspace: Workspace
    bot_token: str
    app_token: str
    methods: dict[str, Method]
    injections: Injections = field(default_factory=Injections)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def token_error(self, method: str, token: str | None) -> str | None:
        """Return the auth error for a token on ``method``, or None when it is accepted."""
        if not token:
            return "not_authed"
        if token not in (self.bot_token, self.app_token):
            return "invalid_auth"
        wants_app = method == "apps.connections.open"
        if (token == self.app_token) != wants_app:
            return "not_allowed_token_type"
        return None

    def answer(self, method: str, token: str | None, params: dict[str, Any]) -> tuple[int, JSON]:
        """Run one Web API call and return (HTTP status, body)."""
        with self.workspace.lock:
            self.calls.append((method, {k: v for k, v in params.items() if k != "token"}))
            if method not in self.methods:
                return 200, {"ok": False, "error": "unknown_method"}
            error = self.token_error(method, token)
            if error is not None:
                return 200, {"ok": False, "error": error}
            retry_after = self.injections.pop_rate(method)
            if retry_after is not None:
                return 429, {"ok": False, "error": "ratelimited", "_retry_after": retry_after}
            injected = self.injections.pop_error(method)
            if injected is not None:
                return 200, {"ok": False, "error": injected}
            try:
                return 200, {
                    "ok": True,
                    **self.methods[method](Call(method, params, self.workspace)),
                }
            except SlackError as exc:
                return 200, {"ok": False, "error": exc.code}


def _form(raw: bytes) -> dict[str, Any]:
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}


def make_server(api: WebApi) -> ThreadingHTTPServer:
    """Return an unstarted HTTP server on 127.0.0.1:0 answering ``/api/<method>`` and files."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def _bearer(self) -> str | None:
            auth = self.headers.get("Authorization", "")
            scheme, _, value = auth.partition(" ")
            return value.strip() if scheme.lower() == "bearer" and value.strip() else None

        def _dispatch(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if url.path.startswith("/files-pri/"):
                self._download(url.path)
                return
            if not url.path.startswith("/api/"):
                self._send(404, b"Not Found", "text/plain")
                return
            params: dict[str, Any] = _form(url.query.encode())
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if raw and ctype == "application/json":
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    self._json(200, {"ok": False, "error": "invalid_json"})
                    return
                params |= body
            elif raw:
                params |= _form(raw)
            status, body = api.answer(url.path[len("/api/") :], self._bearer(), params)
            headers = {}
            if status == 429:
                headers["Retry-After"] = str(body.pop("_retry_after"))
            self._json(status, body, headers)

        def _download(self, path: str) -> None:
            token = self._bearer()
            with api.workspace.lock:
                parts = path.split("/")
                file_id = parts[2].rpartition("-")[2] if len(parts) > 3 else ""
                stored = api.workspace.files.get(file_id)
                api.calls.append(("files.download", {"file": file_id}))
                if token is None:
                    login = f"https://{api.workspace.team_domain}.slack.com/?redir={path}"
                    self._send(302, b"", "text/html", {"Location": login})
                elif token != api.bot_token:
                    self._send(403, b"<html>Forbidden</html>", "text/html")
                elif stored is None or parts[3] != stored.name:
                    self._send(404, b"<html>Not Found</html>", "text/html")
                else:
                    self._send(200, stored.content, stored.mimetype)

        def _json(self, status: int, body: JSON, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self._send(status, data, "application/json; charset=utf-8", headers)

        def _send(
            self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Slack-Req-Id", uuid.uuid4().hex)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)
