"""Crash-test worker: ask the output gate for one output, as a separate process.

Usage::

    python crash_worker.py API_URL REPO DB_PATH RUN_ID SUBJECT KIND PAYLOAD_JSON OUTPUTS_JSON

The bot's token comes in the environment variable ``FACTORYD_TEST_TOKEN`` (not argv, so it
does not show in process listings). With ``FACTORYD_CRASH_AT=output_after_github`` the process
dies with exit code 9 right after GitHub replied and before the store marks the output
applied; otherwise it prints the decision and exits 0. SUBJECT ``-`` means no subject.
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
from factory.store import RunStore


def main(argv: list[str]) -> int:
    """Run one request; return 0 when it was applied, 1 otherwise."""
    api_url, repo_name, db_path, run_id, subject, kind, payload, outputs = argv
    client = Github(
        base_url=api_url,
        auth=Auth.Token(os.environ["FACTORYD_TEST_TOKEN"]),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    store = RunStore.open(Path(db_path))
    ctx = RunContext(
        run_id=run_id,
        automation="crash-test",
        outputs=Outputs.model_validate(json.loads(outputs)),
        subject=None if subject == "-" else int(subject),
        repo=client.get_repo(repo_name),
        store=store,
    )
    decision = OutputGate().request(ctx, kind, json.loads(payload))
    store.close()
    print(decision.text())
    return 0 if decision.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
