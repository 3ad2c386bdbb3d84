"""One run's egress: its proxy, and a Sandbox that sends ``network="allowlist"`` through it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from factory.interfaces import ExecResult, Network, Sandbox, SandboxLimits
from factory.sandbox.bwrap import BwrapSandbox
from factory.sandbox.egress import EgressAccess, EgressRules
from factory.sandbox.egress_proxy import EgressProxy, EgressRecord, Resolver, dns_resolver


class EgressSandbox:
    """A run's view of a BwrapSandbox: ``allowlist`` commands reach out only via its proxy."""

    def __init__(self, inner: BwrapSandbox, proxy: EgressProxy) -> None:
        """Wrap ``inner``; ``proxy`` must be started (and is closed by ``close()``)."""
        self.inner = inner
        self.proxy = proxy
        self.name = inner.name

    def exec(
        self,
        argv: Sequence[str],
        *,
        workspace: Path,
        network: Network = "none",
        limits: SandboxLimits | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Run ``argv`` as BwrapSandbox.exec does, with the proxy when network is allowlist."""
        egress = EgressAccess(self.proxy.socket_path) if network == "allowlist" else None
        return self.inner.exec(
            argv,
            workspace=workspace,
            network=network,
            limits=limits,
            stdin=stdin,
            env=env,
            egress=egress,
        )

    def kill_all(self) -> None:
        """Kill every command of the inner sandbox."""
        self.inner.kill_all()

    def open_run(self, workspace: Path) -> None:
        """Start a run over ``workspace`` in the inner sandbox (its pids cgroup)."""
        self.inner.open_run(workspace)

    def close_run(self, workspace: Path) -> None:
        """End the run over ``workspace`` in the inner sandbox."""
        self.inner.close_run(workspace)

    def close(self) -> None:
        """Stop the proxy."""
        self.proxy.close()


def start_egress(
    sandbox: Sandbox,
    allow: Sequence[str],
    *,
    bundles: Mapping[str, Sequence[str]],
    max_requests: int,
    max_bytes: int,
    record: Callable[[EgressRecord], None] | None = None,
    resolver: Resolver = dns_resolver,
) -> EgressSandbox:
    """Start a proxy for ``allow`` and return ``sandbox`` wrapped to use it.

    Raises ValueError for an unknown bundle or bad entry, or if ``sandbox`` is not bubblewrap
    (only it has a network namespace to keep the command in).
    """
    if not isinstance(sandbox, BwrapSandbox):
        raise ValueError(f"network allowlist needs the bwrap backend, not {sandbox.name!r}")
    rules = EgressRules(allow, bundles)
    proxy = EgressProxy(
        rules, resolver=resolver, max_requests=max_requests, max_bytes=max_bytes, record=record
    )
    return EgressSandbox(sandbox, proxy.start())


def record_text(rec: EgressRecord) -> str:
    """Return the one-line text of an egress step."""
    return (
        f"{rec.decision} {rec.method} {rec.host}:{rec.port} "
        f"(up {rec.bytes_up} B, down {rec.bytes_down} B): {rec.rule}"
    )
