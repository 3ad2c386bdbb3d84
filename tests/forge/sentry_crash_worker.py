"""Crash-test worker: ask the output gate for one output of a run about a Sentry issue.

Usage::

    python sentry_crash_worker.py SENTRY_API_URL ORG GITHUB_API_URL REPO DB_PATH RUN_ID
        ISSUE_ID KIND PAYLOAD_JSON OUTPUTS_JSON

Tokens come in ``FACTORYD_TEST_TOKEN`` and ``FACTORYD_TEST_SENTRY_TOKEN`` (not argv). With
``FACTORYD_CRASH_AT=output_after_github:KIND`` the process dies (exit 9) right after GitHub or
Sentry answered and before the store marks the output applied.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from github import Auth, Github

from factory.config.outputs_config import Outputs
from factory.forge.output_requests import RunContext
from factory.forge.outputs import OutputGate
from factory.sentry.client import SentryClient
from factory.sentry.side import SentrySide
from factory.store import RunStore


def main(argv: list[str]) -> int:
    """Run one output request; return 0 when it was applied, 1 otherwise."""
    sentry_url, org, github_url, repo_name, db_path, run_id, issue_id = argv[:7]
    kind, payload, outputs = argv[7], json.loads(argv[8]), json.loads(argv[9])
    github = Github(
        base_url=github_url,
        auth=Auth.Token(os.environ["FACTORYD_TEST_TOKEN"]),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    client = SentryClient(sentry_url, os.environ["FACTORYD_TEST_SENTRY_TOKEN"], org)
    store = RunStore.open(Path(db_path))
    ctx = RunContext(
        run_id,
        "incident-responder",
        Outputs.model_validate(outputs),
        None,
        github.get_repo(repo_name),
        store,
        bot_login="factory-bot",
        sentry=SentrySide(client, issue_id, True),
    )
    decision = OutputGate().request(ctx, kind, payload)
    return 0 if decision.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
