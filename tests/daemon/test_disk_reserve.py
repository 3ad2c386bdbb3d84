"""Below the data directory's free-space reserve new runs wait, and ``/healthz`` says so."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from factory.testing.sample import MAINTAINER, READY, REPO
from tests.daemon.conftest import Factory, run_daemon, wait_for

HUGE = "99999999g"
"""A reserve no test machine's disk can meet (about 95 PiB)."""


def _reserve(factory: Factory, size: str) -> None:
    policy = Path(factory.settings.harness_dir) / "policy.yaml"
    text = policy.read_text()
    assert "  data_reserve: 1g\n" in text
    policy.write_text(text.replace("  data_reserve: 1g\n", f"  data_reserve: {size}\n"))


def _only_builder(factory: Factory) -> None:
    for other in factory.settings.automations_dir.glob("*.yaml"):
        if other.name != "builder.yaml":
            other.unlink()


def test_runs_wait_while_free_space_is_below_the_reserve(factory: Factory) -> None:
    """A run queued while the disk is below the reserve stays queued: it never starts."""
    _only_builder(factory)
    _reserve(factory, HUGE)
    running = run_daemon(factory)
    try:
        factory.github.add_labels(REPO, factory.world.bug, READY, as_user=MAINTAINER)
        wait_for(lambda: factory.runs("builder"), timeout_s=30, what="the builder's run queued")
        time.sleep(3)  # three ticks of the loop
        statuses = [r.status for r in factory.runs("builder")]
    finally:
        running.stop()
    assert statuses == ["queued"]


def test_healthz_reports_runs_waiting_for_disk(factory: Factory) -> None:
    """``/healthz`` reports that runs wait for disk, with the reserve it compares against."""
    _reserve(factory, HUGE)
    running = run_daemon(factory, webhooks=False)
    try:
        assert running.daemon.http is not None
        url = f"http://127.0.0.1:{running.daemon.http.port}/healthz"
        disk = httpx.get(url).json()["disk"]
    finally:
        running.stop()
    assert (disk["runs_waiting_for_disk"], disk["reserve_bytes"]) == (True, 99999999 << 30)


def test_healthz_reports_no_wait_above_the_reserve(factory: Factory) -> None:
    """With the shipped 1 GiB reserve met, ``/healthz`` says no run waits for disk."""
    running = run_daemon(factory, webhooks=False)
    try:
        assert running.daemon.http is not None
        url = f"http://127.0.0.1:{running.daemon.http.port}/healthz"
        disk = httpx.get(url).json()["disk"]
    finally:
        running.stop()
    assert (disk["runs_waiting_for_disk"], disk["reserve_bytes"]) == (False, 1 << 30)
