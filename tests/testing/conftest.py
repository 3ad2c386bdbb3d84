"""Fixtures for the FakeGitHub tests: a started fake, PyGithub clients, raw HTTP calls."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from github import Auth, Github

from factory.testing.fake_github import FakeGitHub
from tests.testing.openapi import description, record

REPO = "acme/widgets"


@dataclass
class Answer:
    """One raw HTTP answer from the fake."""

    status: int
    headers: dict[str, str]
    body: Any


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    """A started FakeGitHub (acme/widgets; alice admin, bob write, eve none), answers checked."""
    with FakeGitHub() as gh:
        gh.create_repo(REPO, files={"README.md": "# widgets\n", "src/app.py": "print('hi')\n"})
        gh.add_user("alice", token="t-alice", permission="admin")
        gh.add_user("bob", token="t-bob", permission="write")
        gh.add_user("eve", token="t-eve", permission="none")
        exchanges = record(gh)
        yield gh
        # Every answer and webhook of every test here fits GitHub's OpenAPI description.
        assert description().violations(exchanges, gh.webhook_log) == []


@pytest.fixture
def client(fake: FakeGitHub) -> Callable[..., Github]:
    """Make a real PyGithub client on the fake for a token (no throttling, no retries)."""

    def make(token: str = "t-alice", per_page: int = 30) -> Github:  # noqa: S107
        return Github(
            base_url=fake.api_url,
            auth=Auth.Token(token),
            per_page=per_page,
            retry=None,
            seconds_between_requests=0,
            seconds_between_writes=0,
        )

    return make


@pytest.fixture
def call(fake: FakeGitHub) -> Callable[..., Answer]:
    """Send one raw HTTP request to the fake and return status, lower-cased headers, body."""

    def send(
        method: str,
        path: str,
        body: Any = None,
        token: str | None = "t-alice",  # noqa: S107
        headers: dict[str, str] | None = None,
    ) -> Answer:
        url = urlsplit(fake.api_url)
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
        sent = {"Accept": "application/vnd.github+json", **(headers or {})}
        if token:
            sent["Authorization"] = f"token {token}"
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers=sent)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        ctype = resp.getheader("content-type") or ""
        parsed = json.loads(raw) if raw and "json" in ctype else raw.decode()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed)

    return send
