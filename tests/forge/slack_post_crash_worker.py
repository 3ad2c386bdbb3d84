"""Crash-test worker: ask the output gate for one slack_post, as a separate process.

Usage::

    python slack_post_crash_worker.py SLACK_API_URL GITHUB_API_URL REPO DB_PATH RUN_ID CHANNEL TEXT

Tokens come in ``FACTORYD_TEST_SLACK_TOKEN`` and ``FACTORYD_TEST_TOKEN`` (not argv). With
``FACTORYD_CRASH_AT=output_after_github:slack_post`` the process dies (exit 9, like a kill -9)
right after chat.postMessage answered and before the store marks the output applied.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from github import Auth, Github

from factory.config.automation import Outputs
from factory.forge.output_requests import RunContext
from factory.forge.outputs import OutputGate
from factory.slack.client import web_client
from factory.slack.messages import SlackSide
from factory.store import RunStore


def main(argv: list[str]) -> int:
    """Run one slack_post request; return 0 when it was applied, 1 otherwise."""
    slack_url, github_url, repo_name, db_path, run_id, channel, text = argv
    client = Github(
        base_url=github_url,
        auth=Auth.Token(os.environ["FACTORYD_TEST_TOKEN"]),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    slack = web_client(os.environ["FACTORYD_TEST_SLACK_TOKEN"], slack_url)
    side = SlackSide(slack, None, None, False, None, channel)
    store = RunStore.open(Path(db_path))
    ctx = RunContext(
        run_id=run_id,
        automation="crash-test",
        outputs=Outputs.model_validate({"slack_post": {}}),
        subject=None,
        repo=client.get_repo(repo_name),
        store=store,
        slack=side,
    )
    decision = OutputGate().request(ctx, "slack_post", {"text": text})
    store.close()
    print(decision.text())
    return 0 if decision.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
