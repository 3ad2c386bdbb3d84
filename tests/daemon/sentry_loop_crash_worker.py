"""Crash-test worker: perform the Sentry loop's pending intents, as a process.

Usage::

    python sentry_loop_crash_worker.py GITHUB_API_URL REPO SENTRY_API_URL SENTRY_TOKEN DB_PATH

The GitHub token comes in ``FACTORYD_TEST_TOKEN``. With
``FACTORYD_CRASH_AT=output_after_github:<kind>[:comment]`` the process dies (exit 9) right
after GitHub or Sentry answered the write and before the store marks the intent applied.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from github import Auth, Github

from factory.config.loader import load_factory
from factory.daemon.sentry_loop import SentryLoop
from factory.sentry.client import SentryClient
from factory.store import RunStore

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    """Perform what is pending; return 0."""
    github_url, repo_name, sentry_url, sentry_token, db_path = argv
    gh = Github(
        base_url=github_url,
        auth=Auth.Token(os.environ["FACTORYD_TEST_TOKEN"]),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    policy = load_factory(ROOT / "automations", ROOT / "harness").policy
    client = SentryClient(sentry_url, sentry_token, "acme")
    with RunStore.open(Path(db_path)) as store:
        loop = SentryLoop(store, gh.get_repo(repo_name), client, lambda: policy)
        loop.perform_pending()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
