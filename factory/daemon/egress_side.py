"""A run's egress proxy, started by the runner for ``network: allowlist`` automations.

Each proxied connection (allowed or denied) becomes an ``egress`` step of the run: host,
port, bytes both ways, decision and the deciding rule; the viewer shows it like other steps.
"""

from __future__ import annotations

from contextlib import ExitStack

from factory.config.automation import SandboxConfig
from factory.config.egress_policy import EgressPolicy
from factory.interfaces import Sandbox
from factory.sandbox.egress_proxy import EgressRecord
from factory.sandbox.egress_run import record_text, start_egress
from factory.store.runstore import RunStore

EGRESS_STEP = "egress"
"""The step kind of one proxied connection."""


def with_egress(
    sandbox: Sandbox | None,
    config: SandboxConfig,
    policy: EgressPolicy,
    store: RunStore,
    run_id: str,
    cleanup: ExitStack,
) -> Sandbox | None:
    """Return ``sandbox`` behind a new egress proxy when ``config.network`` is allowlist.

    The proxy is closed with ``cleanup``. Raises ValueError for an unknown bundle.
    """
    if sandbox is None or config.network != "allowlist":
        return sandbox

    def record(rec: EgressRecord) -> None:
        store.add_step(run_id, EGRESS_STEP, rec.as_payload(), text=record_text(rec))

    wrapped = start_egress(
        sandbox,
        config.allow,
        bundles=policy.bundles,
        max_requests=policy.max_requests,
        max_bytes=policy.max_bytes,
        record=record,
    )
    cleanup.callback(wrapped.close)
    return wrapped
