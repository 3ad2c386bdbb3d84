"""The run page shows each egress step: decision, host:port, and the rule that decided."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from factory.daemon.egress_side import EGRESS_STEP
from factory.sandbox.egress_proxy import EgressRecord
from factory.sandbox.egress_run import record_text
from factory.store import RunStore


def test_run_page_shows_a_denied_egress_step_with_its_rule(
    tmp_path: Path, client_for: Callable[..., httpx.Client]
) -> None:
    """A denied request appears as 'egress denied: host:port' with the deny reason as text."""
    store = RunStore.open(tmp_path / "factory.db")
    run_id = store.create_run("builder")
    rec = EgressRecord("CONNECT", "evil.test", 443, "denied", "default deny: evil.test:443 …")
    store.add_step(run_id, EGRESS_STEP, rec.as_payload(), text=record_text(rec))
    page = client_for(store).get(f"/runs/{run_id}").text
    assert ("egress denied: evil.test:443" in page, "default deny: evil.test:443" in page) == (
        True,
        True,
    )
    store.close()
