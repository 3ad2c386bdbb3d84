"""Disk in the daemon: below the free-space reserve runs wait (``/healthz`` says so); an
automation's disk cap is its workspace's size."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from factory.testing.fake_anthropic import FakeReply
from factory.testing.sample import MAINTAINER, READY, REPO
from tests.daemon.conftest import Factory, run_daemon, wait_for

HUGE = "99999999g"
"""With 100 %: a reserve of the whole disk, which free space never meets."""


def _reserve(factory: Factory, size: str, percent: int) -> None:
    policy = Path(factory.settings.harness_dir) / "policy.yaml"
    text = policy.read_text()
    shipped = "  data_reserve: 1g\n  data_reserve_percent: 5\n"
    assert shipped in text
    mine = f"  data_reserve: {size}\n  data_reserve_percent: {percent}\n"
    policy.write_text(text.replace(shipped, mine))


def _disk_total(factory: Factory) -> int:
    return shutil.disk_usage(factory.tmp).total


def _only_builder(factory: Factory) -> None:
    for other in factory.settings.automations_dir.glob("*.yaml"):
        if other.name != "builder.yaml":
            other.unlink()


def test_runs_wait_while_free_space_is_below_the_reserve(factory: Factory) -> None:
    """A run queued while the disk is below the reserve stays queued: it never starts."""
    _only_builder(factory)
    _reserve(factory, HUGE, 100)
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
    _reserve(factory, HUGE, 100)
    running = run_daemon(factory, webhooks=False)
    try:
        assert running.daemon.http is not None
        url = f"http://127.0.0.1:{running.daemon.http.port}/healthz"
        disk = httpx.get(url).json()["disk"]
    finally:
        running.stop()
    assert (disk["runs_waiting_for_disk"], disk["reserve_bytes"]) == (True, _disk_total(factory))


def test_healthz_reports_no_wait_above_the_reserve(factory: Factory) -> None:
    """With the shipped reserve (1 GiB, at most 5 %) met, ``/healthz`` says no run waits."""
    running = run_daemon(factory, webhooks=False)
    try:
        assert running.daemon.http is not None
        url = f"http://127.0.0.1:{running.daemon.http.port}/healthz"
        disk = httpx.get(url).json()["disk"]
    finally:
        running.stop()
    expected = min(1 << 30, _disk_total(factory) * 5 // 100)
    assert (disk["runs_waiting_for_disk"], disk["reserve_bytes"]) == (False, expected)


def _df_then_done(body: dict[str, Any]) -> FakeReply:
    """Turn 1: print the size of the filesystem under /workspace; then the model stops."""
    if any(m["role"] == "assistant" for m in body["messages"]):
        return FakeReply([{"type": "text", "text": "Done."}])
    command = {"command": "df -k --output=size /workspace | tail -1"}
    return FakeReply([{"type": "tool_use", "id": "toolu_1", "name": "bash", "input": command}])


@pytest.mark.skipif(os.geteuid() != 0, reason="overlay workspaces need root")
def test_automation_disk_is_the_workspace_size_in_the_run(factory: Factory) -> None:
    """An automation's ``sandbox: {disk: 64m}`` is the size the agent sees under /workspace."""
    _only_builder(factory)
    builder = factory.settings.automations_dir / "builder.yaml"
    builder.write_text(builder.read_text().replace("  memory: 4g\n", "  memory: 4g\n  disk: 64m\n"))
    factory.anthropic.responder = _df_then_done
    running = run_daemon(factory)
    try:
        factory.github.add_labels(REPO, factory.world.bug, READY, as_user=MAINTAINER)
        run = wait_for(
            lambda: next((r for r in factory.runs("builder") if r.finished), None),
            what="the builder's run finished",
        )
    finally:
        running.stop()
    with factory.store() as store:
        results = [s.text.strip() for s in store.steps(run.id) if s.kind == "tool_result"]
    assert results[:1] == [f"{64 * 1024}\n[exit code: 0]"]
