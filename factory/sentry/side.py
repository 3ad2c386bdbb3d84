"""What a run knows of Sentry: the REST client and the Sentry issue the run is about.

A run's Sentry issue is its subject when a Sentry event started it (``sentry:ID``), else the
one lineage links to its GitHub issue or pull request (``sentry:ID → issue:N →
pull_request:M``), else none. ``from_subject`` tells the two apart: only a run about the
Sentry issue itself files the GitHub issue for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from factory.sentry.client import SentryClient
from factory.store.lineage import SENTRY_PREFIX, LineageLog


@dataclass(frozen=True)
class SentrySide:
    """A run's Sentry client and issue."""

    client: SentryClient
    issue_id: str | None
    """The Sentry issue the run is about, or None."""
    from_subject: bool
    """True when the run's subject is the Sentry issue itself."""


def run_sentry_side(store: LineageLog, client: SentryClient, subject_key: str | None) -> SentrySide:
    """Return the SentrySide of a run about ``subject_key``."""
    if subject_key is not None and subject_key.startswith(SENTRY_PREFIX):
        return SentrySide(client, subject_key.removeprefix(SENTRY_PREFIX), True)
    linked = store.sentry_issue_of(subject_key) if subject_key else None
    return SentrySide(client, linked, False)
