"""Fakes shipped with the package: real HTTP servers on 127.0.0.1 that real clients talk to."""

from __future__ import annotations

from factory.testing.fake_anthropic import (
    FakeAnthropic,
    FakeError,
    FakeReply,
    FakeStreamCut,
    RecordedCall,
    spend_limit_error,
)
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_sentry import FakeSentry
from factory.testing.fake_slack import FakeSlack

__all__ = [
    "FakeAnthropic",
    "FakeError",
    "FakeGitHub",
    "FakeReply",
    "FakeSentry",
    "FakeSlack",
    "FakeStreamCut",
    "RecordedCall",
    "spend_limit_error",
]
