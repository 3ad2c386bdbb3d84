"""Crash-test worker: ask the output gate for one revert_pull_request, as a separate process.

Usage::

    python revert_crash_worker.py API_URL REPO CLONE_URL DB_PATH RUN_ID DATA_DIR NUMBER

The bot's token comes in ``FACTORYD_TEST_TOKEN``. With ``FACTORYD_CRASH_AT`` naming a crash
point the process dies there with exit code 9 (a kill -9); otherwise it prints the decision
and exits 0 when the revert was applied.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from factory.store import RunStore
from tests.forge.revert_helpers import World, client_url, context, gate_at


def main(argv: list[str]) -> int:
    """Run one revert request; return 0 when it was applied, 1 otherwise."""
    api_url, name, clone_url, db_path, run_id, data_dir, number = argv
    repo = client_url(api_url, os.environ["FACTORYD_TEST_TOKEN"]).get_repo(name)
    store = RunStore.open(Path(db_path))
    ctx = context(World(name, repo, int(number)), store, run_id=run_id)
    request = {"pull_number": int(number), "reason": "smoke failed"}
    decision = gate_at(name, clone_url, Path(data_dir)).request(ctx, "revert_pull_request", request)
    store.close()
    print(decision.text())
    return 0 if decision.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
