"""The runs page says when new runs wait for disk space (the daemon's free-space reserve)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from factory.store import RunStore

WAITING = {"free_bytes": 100 << 20, "reserve_bytes": 1 << 30, "runs_waiting_for_disk": True}
"""The daemon's disk report while free space (100 MiB) is below the reserve (1 GiB)."""


def test_runs_page_shows_disk_wait_line(
    reader: RunStore, client_for: Callable[..., httpx.Client]
) -> None:
    """Below the reserve the runs page carries one line saying runs wait, with the figures."""
    page = client_for(reader, disk_status=lambda: WAITING).get("/runs").text
    line = "New runs wait: the data directory has 100 MiB free, below its reserve of 1024 MiB."
    assert line in page


def test_runs_page_has_no_disk_line_above_reserve(
    reader: RunStore, client_for: Callable[..., httpx.Client]
) -> None:
    """Above the reserve the runs page has no disk-wait line."""
    fine = {**WAITING, "runs_waiting_for_disk": False}
    page = client_for(reader, disk_status=lambda: fine).get("/runs").text
    assert 'id="disk-wait"' not in page
