"""Claims on subjects against a real FakeGitHub: take, refuse, renew, take over, race."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from github import Auth
from github.Repository import Repository

from factory.errors import ClaimLost
from factory.events import utcnow
from factory.forge.claims import Claims, Heartbeat, Lease, claim_ref
from factory.forge.client import Pacing, make_github
from factory.testing.fake_github import FakeGitHub

REPO = "acme/widgets"
TOKEN = "t-factory"
RACER = Path(__file__).with_name("claim_racer.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(name="fake", scope="module")
def fake_fixture() -> Iterator[FakeGitHub]:
    """One FakeGitHub for the module with the target repo and the factory's token."""
    with FakeGitHub() as server:
        server.create_repo(REPO)
        server.add_user("factory-bot", token=TOKEN, permission="admin")
        yield server


@pytest.fixture(name="repo", scope="module")
def repo_fixture(fake: FakeGitHub) -> Repository:
    """The target repository through a real PyGithub client without pacing."""
    pacing = Pacing(seconds_between_writes=0, backoff_factor=0)
    return make_github(auth=Auth.Token(TOKEN), base_url=fake.api_url, pacing=pacing).get_repo(REPO)


_counter = iter(range(1, 1_000_000))


@pytest.fixture(name="key")
def key_fixture() -> str:
    """A subject key no other test in the module uses."""
    return f"issue:{next(_counter)}"


def later(repo: Repository, hours: float) -> Claims:
    """Return Claims whose clock runs ``hours`` ahead (sees today's leases as expired)."""

    def clock() -> datetime:
        return utcnow() + timedelta(hours=hours)

    return Claims(repo, clock=clock)


def test_claim_returns_a_claim_holding_the_lease(repo: Repository, key: str) -> None:
    """A first claim on a free subject succeeds and records the holder."""
    claim = Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert claim is not None and claim.lease.holder == "daemon-a/run-1"


def test_claim_ref_points_at_a_commit_whose_message_is_the_lease(
    repo: Repository, fake: FakeGitHub, key: str
) -> None:
    """The claim ref in the repository points at a commit whose JSON message is the lease."""
    claim = Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert claim is not None
    message = repo.get_git_commit(fake.repo(REPO).git.resolve(claim_ref(key)) or "").message
    assert Lease.parse(message) == claim.lease


def test_claim_commit_has_the_default_branch_tree_and_no_parent(repo: Repository, key: str) -> None:
    """A fresh claim commit is a root commit over the default branch's files."""
    claim = Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert claim is not None
    commit = repo.get_git_commit(claim.sha)
    paths = [entry.path for entry in repo.get_git_tree(commit.tree.sha).tree]
    assert (paths, commit.parents) == (["README.md"], [])


def test_second_claim_on_a_held_subject_is_refused(repo: Repository, key: str) -> None:
    """While a live lease is held, another holder's claim returns None."""
    Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert Claims(repo).claim(key, "daemon-b/run-2", 60) is None


def test_released_subject_can_be_claimed_again(repo: Repository, key: str) -> None:
    """After release, another holder's claim succeeds."""
    first = Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert first is not None and first.release()
    again = Claims(repo).claim(key, "daemon-b/run-2", 60)
    assert again is not None and again.lease.holder == "daemon-b/run-2"


def test_release_deletes_the_claim_ref(repo: Repository, fake: FakeGitHub, key: str) -> None:
    """Release removes the ref from the repository."""
    claim = Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert claim is not None
    claim.release()
    assert fake.repo(REPO).git.resolve(claim_ref(key)) is None


def test_same_holder_retakes_its_own_live_claim(repo: Repository, key: str) -> None:
    """A restarted daemon re-takes the claim of its own run while the lease is live."""
    Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert Claims(repo).claim(key, "daemon-a/run-1", 60) is not None


def test_renew_extends_the_lease(repo: Repository, key: str) -> None:
    """Renewal moves the expiry later and counts the renewal."""
    claim = Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert claim is not None
    before = claim.lease
    after = claim.renew()
    assert (after.expires_at > before.expires_at, after.renewed) == (True, 1)


def test_renew_is_a_fast_forward_of_the_previous_claim_commit(repo: Repository, key: str) -> None:
    """The renewed claim commit's parent is the previous claim commit."""
    claim = Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert claim is not None
    old = claim.sha
    claim.renew()
    assert [p.sha for p in repo.get_git_commit(claim.sha).parents] == [old]


def test_expired_lease_is_taken_over(repo: Repository, key: str) -> None:
    """A claim whose lease has expired is taken over by another holder."""
    Claims(repo).claim(key, "dead-daemon/run-1", 60)
    taken = later(repo, 1).claim(key, "daemon-b/run-2", 60)
    assert taken is not None and taken.lease.holder == "daemon-b/run-2"


def test_holder_whose_lease_was_taken_over_gets_claim_lost_on_renew(
    repo: Repository, key: str
) -> None:
    """The old holder's renewal after a takeover raises ClaimLost."""
    old = Claims(repo).claim(key, "slow-daemon/run-1", 60)
    assert old is not None
    later(repo, 1).claim(key, "daemon-b/run-2", 60)
    with pytest.raises(ClaimLost, match=key):
        old.renew()


def test_release_by_a_holder_that_was_taken_over_keeps_the_new_claim(
    repo: Repository, key: str
) -> None:
    """Release after a takeover returns False and leaves the new holder's claim in place."""
    old = Claims(repo).claim(key, "slow-daemon/run-1", 60)
    assert old is not None
    new = later(repo, 1).claim(key, "daemon-b/run-2", 60)
    assert (old.release(), new is not None and new.renew().holder) == (False, "daemon-b/run-2")


def test_unparseable_claim_commit_counts_as_expired(repo: Repository, key: str) -> None:
    """A claim ref whose commit message is not a lease does not block the subject."""
    claims = Claims(repo)
    junk = repo.create_git_commit("not json", claims.tree(), [])
    repo.create_git_ref(claim_ref(key), junk.sha)
    assert claims.claim(key, "daemon-a/run-1", 60) is not None


@pytest.mark.parametrize("bad", ["", "issue:1/2", "issue:..1"], ids=["empty", "slash", "dots"])
def test_claim_ref_refuses_keys_git_cannot_hold(bad: str) -> None:
    """Keys that would make an invalid or nested ref name are refused."""
    with pytest.raises(ValueError, match="claim ref"):
        claim_ref(bad)


def test_heartbeat_renews_until_stopped(repo: Repository, key: str) -> None:
    """A running heartbeat renews the claim repeatedly."""
    claim = Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert claim is not None
    with Heartbeat(claim, interval_s=0.02):
        deadline = time.monotonic() + 20
        while claim.lease.renewed < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert claim.lease.renewed >= 2


def test_heartbeat_reports_claim_lost_through_flag_and_callback(repo: Repository, key: str) -> None:
    """When the claim is taken over, the heartbeat sets ``lost`` and calls ``on_lost``."""
    claim = Claims(repo).claim(key, "slow-daemon/run-1", 60)
    assert claim is not None
    later(repo, 1).claim(key, "daemon-b/run-2", 60)
    called: list[ClaimLost] = []
    beat = Heartbeat(claim, interval_s=0.02, on_lost=called.append).start()
    assert beat.lost.wait(timeout=20)
    beat.stop()
    assert (len(called), called[0] is beat.error) == (1, True)


def test_heartbeat_outlives_a_rate_limit(fake: FakeGitHub, key: str) -> None:
    """A renewal refused by a rate limit the client will not wait for is logged; beats go on."""
    pacing = Pacing(seconds_between_writes=0, backoff_factor=0, max_rate_limit_wait=0)
    strict = make_github(auth=Auth.Token(TOKEN), base_url=fake.api_url, pacing=pacing)
    claim = Claims(strict.get_repo(REPO)).claim(key, "daemon-a/run-1", 60)
    assert claim is not None
    fake.inject_primary_rate_limit(reset_in=1)
    with Heartbeat(claim, interval_s=0.05):
        deadline = time.monotonic() + 10
        while claim.lease.renewed < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert claim.lease.renewed >= 1


def test_heartbeat_interval_defaults_to_a_third_of_the_lease(repo: Repository, key: str) -> None:
    """Without an interval the heartbeat beats every lease/3 seconds."""
    claim = Claims(repo).claim(key, "daemon-a/run-1", 90)
    assert claim is not None
    assert Heartbeat(claim).interval_s == 30


# -- races between real processes ------------------------------------------------


def race(fake: FakeGitHub, tmp_path: Path, first: int, rounds: int) -> dict[int, list[object]]:
    """Run two racer processes over subjects first..first+rounds; return outcomes per round."""
    sync = tmp_path / f"sync-{first}"
    sync.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [fake.api_url, TOKEN, REPO]
    procs = [
        subprocess.Popen(
            [sys.executable, str(RACER), *args, name, str(first), str(rounds), "2", str(sync)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("racer-a", "racer-b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    outcomes: dict[int, list[object]] = {}
    for name in ("racer-a", "racer-b"):
        for line in (sync / f"result-{name}.jsonl").read_text().splitlines():
            row = json.loads(line)
            outcomes.setdefault(row["round"], []).append(row.get("won", row.get("error")))
    return outcomes


@pytest.mark.slow
def test_two_processes_racing_for_a_free_subject_100_times_one_wins_each_time(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    """Two processes claim the same fresh subject 100 times; each time exactly one wins."""
    outcomes = race(fake, tmp_path, 10_000, 100)
    winners = [sum(1 for o in results if o is True) for results in outcomes.values()]
    a_wins = sum(1 for results in outcomes.values() if results[0] is True)
    print(f"free-subject race: rounds={len(outcomes)} racer-a={a_wins} racer-b={100 - a_wins}")
    assert (len(outcomes), set(winners)) == (100, {1})


@pytest.mark.slow
def test_two_processes_taking_over_one_expired_claim_one_wins(
    fake: FakeGitHub, repo: Repository, tmp_path: Path
) -> None:
    """Two processes race to take over expired claims (20 rounds); each time exactly one wins."""
    first, rounds = 20_000, 20
    earlier = Claims(repo, clock=lambda: utcnow() - timedelta(hours=1))
    for n in range(first, first + rounds):
        assert earlier.claim(f"issue:{n}", "dead-daemon/run-0", 60) is not None
    outcomes = race(fake, tmp_path, first, rounds)
    winners = [sum(1 for o in results if o is True) for results in outcomes.values()]
    print(f"takeover race: rounds={len(outcomes)} single-winner={winners.count(1)}")
    assert (len(outcomes), set(winners)) == (rounds, {1})


def test_threads_racing_for_one_subject_one_wins(repo: Repository, key: str) -> None:
    """Four threads claiming one subject at once: exactly one gets the claim."""
    barrier = threading.Barrier(4)
    results: list[bool] = []

    def run(n: int) -> None:
        barrier.wait()
        results.append(Claims(repo).claim(key, f"daemon-{n}/run", 60) is not None)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
