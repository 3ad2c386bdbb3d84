"""CSRF tokens for the viewer's one write (Run now): an HMAC of a per-process secret.

A page from this viewer carries the token in its form; another site cannot read our pages
(same-origin policy), so it cannot forge the form. The secret lives only in memory, so a
restart invalidates old pages' tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

FIELD = "csrf_token"
"""Name of the form field (or ``X-CSRF-Token`` header) carrying the token."""
HEADER = "x-csrf-token"


class CsrfTokens:
    """Issues and checks tokens bound to an action name (e.g. "run:builder")."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(32)

    def token(self, action: str) -> str:
        """Return the token for ``action``."""
        return hmac.new(self._secret, action.encode(), hashlib.sha256).hexdigest()

    def valid(self, action: str, candidate: str | None) -> bool:
        """Return True when ``candidate`` is the token for ``action`` (constant time)."""
        if not candidate:
            return False
        return hmac.compare_digest(self.token(action).encode(), candidate.encode())
