"""The viewer's access token: required on every request when it listens beyond loopback.

A request proves it knows the token by ``Authorization: Bearer <token>``, by the cookie a
previous ``?token=`` visit set, or by ``?token=`` itself (which sets that cookie and
redirects to the same address without the token, so it does not linger in history).
Comparison is constant-time (``hmac.compare_digest``). No token given: 401; wrong: 403.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "factoryd_viewer_token"


def is_loopback(host: str) -> bool:
    """Return True when ``host`` is a loopback address or "localhost"."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Raise ValueError when the viewer would listen beyond loopback without a token."""
    if not is_loopback(host) and not token:
        raise ValueError(
            f"the viewer binds {host}, which is not loopback: give it a token"
            " (every request must then present it)"
        )


def presented_token(headers: Mapping[str, str]) -> str | None:
    """Return the token a request presents (Bearer header first, then the viewer cookie).

    ``headers`` has lower-case names. Returns None when the request presents neither.
    """
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    cookie = SimpleCookie()
    cookie.load(headers.get("cookie", ""))
    if COOKIE in cookie:
        return cookie[COOKIE].value
    return None


def token_matches(candidate: str, token: str) -> bool:
    """Return whether ``candidate`` equals ``token`` (constant-time)."""
    return hmac.compare_digest(candidate.encode(), token.encode())


class TokenMiddleware:
    """ASGI middleware refusing every HTTP request that does not present ``token``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if len(token) < 16:
            raise ValueError("the viewer token must be at least 16 characters long")
        self.app = app
        self._token = token.encode()

    def _matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self._token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        from_query = [v for k, v in query if k == "token"]
        response: Response | None
        if from_query:
            response = self._from_query(scope, from_query[0], query)
        else:
            response = self._from_headers(headers)
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)

    def _from_query(self, scope: Scope, token: str, query: list[tuple[str, str]]) -> Response:
        if not self._matches(token):
            return PlainTextResponse("forbidden: wrong token", status_code=403)
        rest = urlencode([(k, v) for k, v in query if k != "token"])
        target = scope["path"] + (f"?{rest}" if rest else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    def _from_headers(self, headers: dict[str, str]) -> Response | None:
        presented = presented_token(headers)
        if presented is not None:
            if self._matches(presented):
                return None
            return PlainTextResponse("forbidden: wrong token", status_code=403)
        return PlainTextResponse(
            "unauthorized: this viewer needs its token (Authorization: Bearer, or ?token=)",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
