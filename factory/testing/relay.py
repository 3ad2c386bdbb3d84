"""Delivers FakeGitHub's webhooks to a daemon the way GitHub does: signed HTTP POSTs.

FakeGitHub calls its ``on_event`` hook while it handles a request; the relay only queues
there and posts from its own thread, so the daemon may call back into the fake.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import uuid
from typing import Any

import httpx

from factory.testing.fake_github import FakeGitHub


def signed_headers(
    secret: str, event: str, body: bytes, delivery: str | None = None
) -> dict[str, str]:
    """Return GitHub's webhook headers for ``body`` signed with ``secret``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": f"sha256={digest}",
        "User-Agent": "GitHub-Hookshot/fake",
    }


class WebhookRelay:
    """Posts every webhook FakeGitHub emits to ``url``, signed with ``secret``, in order."""

    def __init__(self, fake: FakeGitHub, url: str, secret: str) -> None:
        self.url = url
        self.secret = secret
        self.delivered: list[tuple[str, int]] = []
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="webhook-relay", daemon=True)
        fake.on_event = self._enqueue

    def _enqueue(self, event: str, payload: dict[str, Any]) -> None:
        self._queue.put((event, payload))

    def start(self) -> WebhookRelay:
        """Start delivering; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Deliver what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=10)

    def drain(self, timeout_s: float = 10.0) -> None:
        """Wait until everything queued so far was delivered."""
        done = threading.Event()
        self._queue.put(("__drain__", {"done": done}))
        done.wait(timeout_s)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while (item := self._queue.get()) is not None:
                event, payload = item
                if event == "__drain__":
                    payload["done"].set()
                    continue
                body = json.dumps(payload).encode()
                reply = client.post(
                    self.url, content=body, headers=signed_headers(self.secret, event, body)
                )
                self.delivered.append((event, reply.status_code))
