"""One claim racer process: claims subjects on a FakeGitHub round by round, in lock step.

Usage: ``python claim_racer.py API_URL TOKEN REPO NAME FIRST ROUNDS PARTIES SYNC_DIR``.
Round ``i`` claims subject ``issue:i`` (FIRST <= i < FIRST+ROUNDS). Before each round
the racer writes ``SYNC_DIR/ready-i-NAME`` and waits until PARTIES racers have, so all
start the round together. Results go to ``SYNC_DIR/result-NAME.jsonl``, one JSON line
per round: ``{"round": i, "won": bool}`` or ``{"round": i, "error": "..."}``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import structlog
from github import Auth

from factory.forge.claims import Claims, make_holder
from factory.forge.client import Pacing, make_github


def _barrier(sync: Path, round_no: int, name: str, parties: int) -> None:
    (sync / f"ready-{round_no}-{name}").touch()
    deadline = time.monotonic() + 60
    while len(list(sync.glob(f"ready-{round_no}-*"))) < parties:
        if time.monotonic() > deadline:
            raise SystemExit(f"racer {name}: barrier of round {round_no} timed out")
        time.sleep(0.001)


def main(argv: list[str]) -> int:
    """Race for ROUNDS subjects; return the exit code."""
    api, token, repo_name, name, first, rounds, parties, sync_dir = argv
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    logging.disable(logging.CRITICAL)
    sync = Path(sync_dir)
    pacing = Pacing(seconds_between_writes=0, backoff_factor=0)
    gh = make_github(auth=Auth.Token(token), base_url=api, pacing=pacing)
    claims = Claims(gh.get_repo(repo_name))
    claims.tree()
    with (sync / f"result-{name}.jsonl").open("w") as out:
        for round_no in range(int(first), int(first) + int(rounds)):
            _barrier(sync, round_no, name, int(parties))
            try:
                won = claims.claim(f"issue:{round_no}", make_holder(name, str(round_no)), 600)
                line: dict[str, object] = {"round": round_no, "won": won is not None}
            except Exception as exc:
                line = {"round": round_no, "error": f"{type(exc).__name__}: {exc}"}
            out.write(json.dumps(line) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
