"""Crash-test worker: absorb one stored event and perform its follow-up, as a process.

Usage::

    python followup_crash_worker.py SLACK_API_URL GITHUB_API_URL REPO DB_PATH EVENT_ID

Tokens come in ``FACTORYD_TEST_SLACK_TOKEN`` and ``FACTORYD_TEST_TOKEN``. With
``FACTORYD_CRASH_AT=output_after_github:<kind>`` the process dies (exit 9) right after Slack
or GitHub answered the write and before the store marks the follow-up applied.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from github import Auth, Github

from factory.daemon.followup import Followup
from factory.slack.client import web_client
from factory.store import RunStore


def main(argv: list[str]) -> int:
    """Absorb the event and perform what it decided; return 0."""
    slack_url, github_url, repo_name, db_path, event_id = argv
    gh = Github(
        base_url=github_url,
        auth=Auth.Token(os.environ["FACTORYD_TEST_TOKEN"]),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    slack = web_client(os.environ["FACTORYD_TEST_SLACK_TOKEN"], slack_url)
    with RunStore.open(Path(db_path)) as store:
        followup = Followup(store, slack, gh.get_repo(repo_name))
        followup.absorb(store.get_event(int(event_id)))
        followup.perform_pending()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
