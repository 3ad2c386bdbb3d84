"""Tests that kill mutants `make mutants` found alive in the claims module.

Races are made deterministic in two ways, both over real HTTP to FakeGitHub: the claimer's
injectable clock lets a rival act at the moment ``_take_over`` reads the time, and
``Interposed`` (a pass-through around the real PyGithub Repository) lets a rival act right
after one chosen request returns, as another process could.

Equivalent mutants (no observable difference):
- xǁLeaseǁmessage__mutmut_2, _4, _12 (``sort_keys`` None/absent/False): the dict literal
  is already in sorted key order, so the JSON text is the same.
- xǁClaimsǁ_take_over__mutmut_31, xǁClaimǁrenew__mutmut_22 (``force=False`` dropped):
  PyGithub then omits ``force`` and GitHub's default is false, the same request meaning.
- xǁClaimǁ__init____mutmut_9 (``_released = None``): only ever tested for truth.
- xǁHeartbeatǁstop__mutmut_3, _4 (join timeout None/31 instead of 30): differ only when a
  beat hangs for 30 seconds.
Counted as a timeout, not a survivor: xǁHeartbeatǁ_beat__mutmut_1 (``while not
self._stop.wait(...)`` -> ``while self._stop.wait(...)``). The heartbeat then never renews
while running and, once stopped, renews in a tight loop, so ``stop()`` waits out its
30-second join and mutmut's CPU limit ends the run before a heartbeat test can fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from github.Repository import Repository
from structlog.testing import capture_logs

from factory.errors import ClaimLost
from factory.events import utcnow
from factory.forge.claims import Claim, Claims, Heartbeat, Lease, claim_ref
from factory.testing.fake_github import FakeGitHub
from tests.forge.test_claims import (  # the fixtures fake, repo and key
    REPO,
    fake_fixture,  # noqa: F401
    key_fixture,  # noqa: F401
    repo_fixture,  # noqa: F401
)

Log = list[MutableMapping[str, Any]]


def at(repo: Repository, hours: float) -> Claims:
    """Return Claims whose clock runs ``hours`` ahead of now."""
    return Claims(repo, clock=lambda: utcnow() + timedelta(hours=hours))


def claim_lines(logs: Log) -> Log:
    """Return the claims module's own log lines (FakeGitHub and the client log too)."""
    return [e for e in logs if str(e.get("event", "")).startswith("claim")]


def scripted_clock(
    when: datetime, actions: dict[int, Callable[[], None]]
) -> Callable[[], datetime]:
    """Return a clock answering ``when``; its n-th call (from 1) first runs ``actions[n]``."""
    calls = iter(range(1, 1_000))

    def clock() -> datetime:
        action = actions.get(next(calls))
        if action is not None:
            action()
        return when

    return clock


def rival_takes_over(repo: Repository, key: str) -> Callable[[], None]:
    """Return an action: a rival whose clock runs two hours ahead claims ``key``."""

    def act() -> None:
        at(repo, 2).claim(key, "rival/run-3", 60)

    return act


class Interposed:
    """The real PyGithub Repository; after a call of a named method returns, a rival acts.

    ``after[name]`` is a list of actions; each call of ``name`` (returning or raising)
    pops and runs the first one.
    """

    def __init__(self, repo: Repository, after: dict[str, list[Callable[[], object]]]) -> None:
        self._repo = repo
        self._after = after
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._repo, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            try:
                return attr(*args, **kwargs)
            finally:
                pending = self._after.get(name)
                if pending:
                    pending.pop(0)()

        return call


def interposed(repo: Repository, after: dict[str, list[Callable[[], object]]]) -> Claims:
    """Return Claims over ``Interposed(repo, after)`` with the claim tree already fetched."""
    claims = Claims(cast(Repository, Interposed(repo, after)))
    claims._tree = Claims(repo).tree()
    return claims


def noop() -> None:
    """Do nothing (a call after which no rival acts)."""


class Vanish:
    """Takes ``REPO`` away from the fake (GitHub answers 404) and brings it back."""

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake
        self.saved: Any = None

    def gone(self) -> None:
        with self.fake.hub.lock:
            self.saved = self.fake.hub.repos.pop(REPO.lower())

    def back(self) -> None:
        if self.saved is None:
            return
        with self.fake.hub.lock:
            self.fake.hub.repos[REPO.lower()] = self.saved
        self.saved = None


@pytest.fixture
def vanish(fake: FakeGitHub) -> Iterator[Vanish]:
    """A Vanish for ``REPO`` that always brings the repository back after the test."""
    gone = Vanish(fake)
    yield gone
    gone.back()


# -- claim_ref and Lease ----------------------------------------------------------


def test_claim_ref_turns_the_colon_into_a_dash() -> None:
    """A subject key's ':' becomes '-' in the claim ref name."""
    assert claim_ref("issue:12") == "refs/factory/claims/issue-12"


def test_claim_ref_accepts_upper_case_letters() -> None:
    """Letters of any case are valid in a claim ref name."""
    assert claim_ref("schedule:XMAS") == "refs/factory/claims/schedule-XMAS"


def test_lease_message_records_the_renewal_count() -> None:
    """The claim commit message carries the renewal count under "renewed"."""
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    message = Lease("daemon-a/run-1", when, 3).message()
    assert message == (
        '{"holder": "daemon-a/run-1", "lease_expires_at": "2026-01-02T03:04:05+00:00", '
        '"renewed": 3}'
    )


def test_lease_parse_reads_the_renewal_count() -> None:
    """Parsing a message keeps its renewal count."""
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    lease = Lease("daemon-a/run-1", when, 4)
    assert Lease.parse(lease.message()) == lease


def test_lease_parse_without_a_renewal_count_means_never_renewed() -> None:
    """A message without "renewed" parses as a lease renewed zero times."""
    message = '{"holder": "h/r", "lease_expires_at": "2026-01-02T03:04:05+00:00"}'
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert Lease.parse(message) == Lease("h/r", when, 0)


def test_lease_is_expired_at_its_expiry_instant() -> None:
    """At exactly ``expires_at`` the lease is no longer live."""
    when = utcnow()
    assert Lease("h/r", when).live(when) is False


# -- Claims.current and Claims.claim ----------------------------------------------


def test_current_of_an_unclaimed_subject_is_none(repo: Repository, key: str) -> None:
    """A subject without a claim ref has no current claim."""
    assert Claims(repo).current(key) is None


def test_claim_with_a_zero_lease_is_refused(repo: Repository, key: str) -> None:
    """A lease of 0 seconds is a ValueError naming the rule."""
    with pytest.raises(ValueError, match="must be > 0 seconds"):
        Claims(repo).claim(key, "daemon-a/run-1", 0)


def test_claim_with_a_sub_second_lease_is_taken(repo: Repository, key: str) -> None:
    """A positive lease under one second is valid."""
    claim = Claims(repo).claim(key, "daemon-a/run-1", 0.5)
    assert claim is not None and claim.lease_s == 0.5


def test_claim_knows_its_holder(repo: Repository, key: str) -> None:
    """A fresh claim records the holder it was taken for."""
    claim = Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert claim is not None and claim.holder == "daemon-a/run-1"


def test_claim_taken_is_logged(repo: Repository, key: str) -> None:
    """Taking a free subject logs claim_taken with the subject and the holder."""
    with capture_logs() as logs:
        Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert claim_lines(logs) == [
        {"event": "claim_taken", "subject": key, "holder": "daemon-a/run-1", "log_level": "info"}
    ]


def test_claim_refused_is_logged_with_the_live_holder(repo: Repository, key: str) -> None:
    """A refused claim logs claim_refused with the subject and who holds it."""
    Claims(repo).claim(key, "daemon-a/run-1", 60)
    with capture_logs() as logs:
        Claims(repo).claim(key, "daemon-b/run-2", 60)
    assert claim_lines(logs) == [
        {"event": "claim_refused", "subject": key, "holder": "daemon-a/run-1", "log_level": "debug"}
    ]


def test_claim_released_between_create_and_read_is_retried(repo: Repository, key: str) -> None:
    """When the holder releases right after our create was refused, the next try takes it."""
    held = Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert held is not None
    claims = interposed(repo, {"create_git_ref": [held.release]})
    claim = claims.claim(key, "daemon-b/run-2", 60)
    assert claim is not None and claim.holder == "daemon-b/run-2"


def test_claim_gives_up_after_three_vanishing_tries(repo: Repository, key: str) -> None:
    """A claim that is released and re-taken around every try gives up after three tries."""
    rival = Claims(repo)
    held: list[Claim] = []

    def take() -> None:
        claim = rival.claim(key, "daemon-a/run-1", 60)
        assert claim is not None
        held.append(claim)

    def release() -> None:
        held[-1].release()

    take()
    claims = interposed(repo, {"create_git_ref": [release] * 5, "get_git_ref": [take] * 5})
    result = claims.claim(key, "daemon-b/run-2", 60)
    assert (result, cast(Interposed, claims.repo).calls["create_git_ref"]) == (None, 3)


# -- takeover ---------------------------------------------------------------------


def test_takeover_lease_runs_from_the_claimers_now(repo: Repository, key: str) -> None:
    """A taken-over claim's lease expires ``lease_s`` after the taker's clock."""
    Claims(repo).claim(key, "dead-daemon/run-1", 60)
    when = utcnow() + timedelta(hours=1)
    taken = Claims(repo, clock=lambda: when).claim(key, "daemon-b/run-2", 60)
    assert taken is not None and taken.lease.expires_at == when + timedelta(seconds=60)


def test_takeover_claim_knows_its_subject(repo: Repository, key: str) -> None:
    """A taken-over claim records the subject it is on."""
    Claims(repo).claim(key, "dead-daemon/run-1", 60)
    taken = at(repo, 1).claim(key, "daemon-b/run-2", 60)
    assert taken is not None and taken.subject_key == key


def test_takeover_is_logged_with_the_previous_holder(repo: Repository, key: str) -> None:
    """Taking over an expired claim logs claim_taken_over with subject, holder and previous."""
    Claims(repo).claim(key, "dead-daemon/run-1", 60)
    with capture_logs() as logs:
        at(repo, 1).claim(key, "daemon-b/run-2", 60)
    assert claim_lines(logs) == [
        {
            "event": "claim_taken_over",
            "subject": key,
            "holder": "daemon-b/run-2",
            "previous": "dead-daemon/run-1",
            "log_level": "info",
        }
    ]


def test_takeover_lost_to_a_rival_is_refused(repo: Repository, key: str) -> None:
    """When a rival takes the expired claim over first, our takeover returns None."""
    Claims(repo).claim(key, "dead-daemon/run-1", 60)
    clock = scripted_clock(utcnow() + timedelta(hours=1), {2: rival_takes_over(repo, key)})
    assert Claims(repo, clock=clock).claim(key, "daemon-b/run-2", 60) is None


def test_takeover_lost_to_a_rival_is_logged(repo: Repository, key: str) -> None:
    """A takeover that lost the race logs claim_takeover_lost with the subject and holder."""
    Claims(repo).claim(key, "dead-daemon/run-1", 60)
    clock = scripted_clock(utcnow() + timedelta(hours=1), {2: rival_takes_over(repo, key)})
    with capture_logs() as logs:
        Claims(repo, clock=clock).claim(key, "daemon-b/run-2", 60)
    assert [e for e in claim_lines(logs) if e["event"] != "claim_taken_over"] == [
        {
            "event": "claim_takeover_lost",
            "subject": key,
            "holder": "daemon-b/run-2",
            "log_level": "info",
        }
    ]


def test_takeover_of_a_claim_released_meanwhile_takes_it_fresh(repo: Repository, key: str) -> None:
    """When the expired claim is released during our takeover, the next try claims it."""
    dead = Claims(repo).claim(key, "dead-daemon/run-1", 60)
    assert dead is not None

    def release() -> None:
        dead.release()

    clock = scripted_clock(utcnow() + timedelta(hours=1), {2: release})
    claim = Claims(repo, clock=clock).claim(key, "daemon-b/run-2", 60)
    assert isinstance(claim, Claim) and claim.holder == "daemon-b/run-2"


def test_takeover_answered_404_is_retried(vanish: Vanish, repo: Repository, key: str) -> None:
    """A 404 on the takeover (GitHub's replication lag) is retried and the claim is taken."""
    Claims(repo).claim(key, "dead-daemon/run-1", 60)
    # commits: the fresh one, then the takeover one; after it the repo 404s until the
    # re-read (get_git_ref) has failed
    claims = interposed(
        repo, {"create_git_commit": [noop, vanish.gone], "get_git_ref": [noop, vanish.back]}
    )
    claims.clock = lambda: utcnow() + timedelta(hours=1)
    claim = claims.claim(key, "daemon-b/run-2", 60)
    assert isinstance(claim, Claim) and claim.holder == "daemon-b/run-2"


# -- renew ------------------------------------------------------------------------


def test_renew_after_release_says_released(repo: Repository, key: str) -> None:
    """Renewing a released claim raises ClaimLost saying it was released, by whom."""
    claim = Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert claim is not None
    claim.release()
    with pytest.raises(ClaimLost, match=f"claim on {key} was released by daemon-a/run-1"):
        claim.renew()


def test_renew_of_a_taken_over_claim_is_logged(repo: Repository, key: str) -> None:
    """A renewal that finds the claim taken over logs claim_lost with subject and holder."""
    old = Claims(repo).claim(key, "slow-daemon/run-1", 60)
    assert old is not None
    at(repo, 1).claim(key, "daemon-b/run-2", 60)
    with capture_logs() as logs, pytest.raises(ClaimLost):
        old.renew()
    assert claim_lines(logs) == [
        {
            "event": "claim_lost",
            "subject": key,
            "holder": "slow-daemon/run-1",
            "log_level": "warning",
        }
    ]


def test_renew_is_logged_with_the_count(repo: Repository, key: str) -> None:
    """A renewal logs claim_renewed with the subject and the renewal count."""
    claim = Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert claim is not None
    with capture_logs() as logs:
        claim.renew()
    assert claim_lines(logs) == [
        {"event": "claim_renewed", "subject": key, "renewed": 1, "log_level": "debug"}
    ]


def test_renew_answered_404_is_claim_lost(vanish: Vanish, repo: Repository, key: str) -> None:
    """A 404 when moving the ref (the repository is gone) means the claim is lost."""
    claims = interposed(repo, {"create_git_commit": [noop, vanish.gone]})
    claim = claims.claim(key, "daemon-a/run-1", 60)
    assert claim is not None
    try:
        with pytest.raises(ClaimLost):
            claim.renew()
    finally:
        vanish.back()


# -- release ----------------------------------------------------------------------


def test_second_release_returns_false(repo: Repository, key: str) -> None:
    """Releasing an already released claim returns False."""
    claim = Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert claim is not None
    claim.release()
    assert claim.release() is False


def test_release_is_logged(repo: Repository, key: str) -> None:
    """Releasing our claim logs claim_released with the subject and the holder."""
    claim = Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert claim is not None
    with capture_logs() as logs:
        claim.release()
    assert claim_lines(logs) == [
        {"event": "claim_released", "subject": key, "holder": "daemon-a/run-1", "log_level": "info"}
    ]


def test_release_of_a_taken_over_claim_is_logged(repo: Repository, key: str) -> None:
    """Releasing a claim someone took over logs claim_release_not_ours with the subject."""
    old = Claims(repo).claim(key, "slow-daemon/run-1", 60)
    assert old is not None
    at(repo, 1).claim(key, "daemon-b/run-2", 60)
    with capture_logs() as logs:
        old.release()
    assert claim_lines(logs) == [
        {"event": "claim_release_not_ours", "subject": key, "log_level": "warning"}
    ]


def test_release_of_a_ref_deleted_meanwhile_returns_false(repo: Repository, key: str) -> None:
    """When the ref is deleted between our read and our delete, release returns False."""

    def delete() -> None:
        repo.get_git_ref(claim_ref(key).removeprefix("refs/")).delete()

    claim = interposed(repo, {"get_git_commit": [delete]}).claim(key, "d/run-1", 60)
    assert claim is not None and claim.release() is False


def test_release_answered_404_returns_false(vanish: Vanish, repo: Repository, key: str) -> None:
    """A 404 on the delete (the repository is gone) means there is nothing of ours: False."""
    claim = interposed(repo, {"get_git_commit": [vanish.gone]}).claim(key, "d/r", 60)
    assert claim is not None
    try:
        assert claim.release() is False
    finally:
        vanish.back()


# -- Heartbeat --------------------------------------------------------------------


def _claim(repo: Repository, key: str) -> Claim:
    claim = Claims(repo).claim(key, "daemon-a/run-1", 60)
    assert claim is not None
    return claim


def test_heartbeat_with_a_zero_interval_is_refused(repo: Repository, key: str) -> None:
    """An interval of 0 seconds is a ValueError naming the rule."""
    with pytest.raises(ValueError, match="heartbeat interval must be > 0"):
        Heartbeat(_claim(repo, key), interval_s=0)


def test_new_heartbeat_has_no_error(repo: Repository, key: str) -> None:
    """Before any beat, ``error`` is None."""
    assert Heartbeat(_claim(repo, key)).error is None


def test_heartbeat_thread_is_a_daemon_named_for_the_subject(repo: Repository, key: str) -> None:
    """The beating thread is a daemon thread called ``heartbeat-<subject>``."""
    with Heartbeat(_claim(repo, key), interval_s=30):
        found = [(t.name, t.daemon) for t in threading.enumerate() if t.name.endswith(key)]
    assert found == [(f"heartbeat-{key}", True)]


def test_stop_of_a_never_started_heartbeat_returns(repo: Repository, key: str) -> None:
    """Stopping a heartbeat that never started does not raise."""
    beat = Heartbeat(_claim(repo, key), interval_s=30)
    beat.stop()
    assert beat.lost.is_set() is False


def test_stop_from_on_lost_returns(repo: Repository, key: str) -> None:
    """The on_lost callback may stop its own heartbeat (no self-join)."""
    claim = _claim(repo, key)
    at(repo, 1).claim(key, "daemon-b/run-2", 60)
    stopped = threading.Event()
    beat: Heartbeat | None = None

    def on_lost(_exc: ClaimLost) -> None:
        assert beat is not None
        beat.stop()
        stopped.set()

    beat = Heartbeat(claim, interval_s=0.02, on_lost=on_lost).start()
    assert stopped.wait(timeout=10)


def test_stop_waits_for_the_beat_in_flight(repo: Repository, key: str) -> None:
    """stop() returns only after the heartbeat thread has finished its current beat."""
    claim = _claim(repo, key)
    at(repo, 1).claim(key, "daemon-b/run-2", 60)
    entered, finished = threading.Event(), threading.Event()

    def on_lost(_exc: ClaimLost) -> None:
        entered.set()
        time.sleep(0.3)
        finished.set()

    beat = Heartbeat(claim, interval_s=0.02, on_lost=on_lost).start()
    assert entered.wait(timeout=20)
    beat.stop()
    assert finished.is_set() is True


def test_failed_renewal_is_logged_with_the_error_type(
    vanish: Vanish, repo: Repository, key: str
) -> None:
    """A renewal failing with a GitHub error logs claim_renew_failed with subject and type."""
    claim = _claim(repo, key)
    vanish.gone()
    try:
        with capture_logs() as logs, Heartbeat(claim, interval_s=0.02):
            deadline = time.monotonic() + 20
            while not claim_lines(logs) and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        vanish.back()
    assert claim_lines(logs)[0] == {
        "event": "claim_renew_failed",
        "subject": key,
        "error": "UnknownObjectException",
        "log_level": "warning",
    }
