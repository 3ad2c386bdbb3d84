"""A run's egress proxy, started by the runner for ``network: allowlist`` automations.

Each proxied connection (allowed or denied) becomes an ``egress`` step of the run: host,
port, bytes both ways, decision and the deciding rule; the viewer shows it like other steps.
"""

from __future__ import annotations

import os
from contextlib import ExitStack

import structlog

from factory.config.automation import SandboxConfig
from factory.config.egress_policy import EgressPolicy
from factory.interfaces import Sandbox
from factory.sandbox.egress_proxy import EgressRecord, Resolver, dns_resolver, map_resolver
from factory.sandbox.egress_run import record_text, start_egress
from factory.store.runstore import RunStore

log = structlog.get_logger(__name__)

EGRESS_STEP = "egress"
"""The step kind of one proxied connection."""
HOSTS_ENV = "FACTORYD_EGRESS_HOSTS"
"""Tests only: ``name=127.0.0.1:PORT,...`` sends those names to fixed (loopback) addresses."""


def resolver_from_env(value: str | None) -> Resolver:
    """Return the proxy's resolver: DNS, or the fixed map in ``value`` (HOSTS_ENV; tests)."""
    if not value:
        return dns_resolver
    mapping: dict[str, tuple[str, int]] = {}
    for item in value.split(","):
        name, _, address = item.partition("=")
        host, _, port = address.rpartition(":")
        mapping[name.strip()] = (host, int(port))
    log.warning("egress_hosts_mapped", names=sorted(mapping))  # never in production
    return map_resolver(mapping)


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
        resolver=resolver_from_env(os.environ.get(HOSTS_ENV)),
    )
    cleanup.callback(wrapped.close)
    return wrapped
