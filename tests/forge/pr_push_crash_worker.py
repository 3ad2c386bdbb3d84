"""Crash-test worker: one push_to_pull_request through the gate, as a separate process.

Usage::

    python pr_push_crash_worker.py API_URL CLONE_URL DB DATA RUN_ID NUMBER WS_PATH WS_BASE KEY_SCOPE

The bot's token comes in ``FACTORYD_TEST_TOKEN``. With ``FACTORYD_CRASH_AT`` naming a point
of the push (``pr_after_push``, ``output_after_github:push_to_pull_request``) the process
dies there with exit code 9; otherwise it prints the decision and exits 0 when applied.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from github import Auth, Github

from factory.config.harness import Policy
from factory.config.outputs_config import Outputs
from factory.forge.output_requests import RunContext
from factory.forge.outputs import OutputGate
from factory.forge.patches import Identity
from factory.forge.pr_output import PullRequestSide
from factory.forge.pr_push_perform import push_performers
from factory.sandbox.bwrap import BwrapSandbox
from factory.store import RunStore
from factory.workspace import Mirror, Workspace

REPO, BOT = "acme/widgets", "factory-bot"
FIX = {"message": "Fix the greeting", "summary": "The greeting test failed; fixed it."}
POLICY = {
    "protected_paths": [".github/workflows/**"],
    "risk_tiers": {"low": {}, "medium": {}, "high": {}},
    "prices": {"m": {"input": 1, "output": 1, "cache_write": 1, "cache_read": 1}},
}


def main(argv: list[str]) -> int:
    """Ask for one push; return 0 when it was applied, 1 otherwise."""
    api_url, clone_url, db, data, run_id, number, ws_path, ws_base, scope = argv
    gh = Github(
        base_url=api_url,
        auth=Auth.Token(os.environ["FACTORYD_TEST_TOKEN"]),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    store = RunStore.open(Path(db))
    outputs = Outputs.model_validate({"push_to_pull_request": {}})
    ctx = RunContext(
        run_id,
        "pr-shepherd",
        outputs,
        int(number),
        gh.get_repo(REPO),
        store,
        bot_login=BOT,
        key_scope=scope,
    )
    workspace = Workspace(run_id, Path(ws_path), f"refs/pull/{number}/head", ws_base)
    side = PullRequestSide(
        workspace=workspace,
        sandbox=BwrapSandbox(),
        mirror=Mirror(Path(data), REPO, clone_url),
        policy=Policy.model_validate(POLICY),
        data_dir=Path(data),
        subject_slug=f"pull_request-{number}",
        open_config=None,
        merge_config=None,
        identity=Identity("factoryd", "factoryd@example.com"),
    )
    gate = OutputGate(push_performers(side, outputs.push_to_pull_request))
    decision = gate.request(ctx, "push_to_pull_request", FIX)
    store.close()
    print(decision.text())
    return 0 if decision.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
