"""Where agent commands run: bubblewrap by default, or explicitly unsandboxed.

``BACKENDS`` maps the automation's ``sandbox.backend`` to a class; ``make_sandbox(name)``
builds one; ``sandbox_exec(...)`` is what ``factoryd sandbox exec`` runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from factory.interfaces import ExecResult, Network, Sandbox, SandboxLimits
from factory.sandbox.bwrap import BwrapSandbox
from factory.sandbox.egress_run import start_egress
from factory.sandbox.mounts import capped_workspace
from factory.sandbox.unsandboxed import UnsandboxedSandbox

BACKENDS: dict[str, Callable[..., Sandbox]] = {
    "bwrap": BwrapSandbox,
    "none": UnsandboxedSandbox,
}
"""Sandbox backends by name, as written in an automation's ``sandbox: {backend: ...}``."""


def make_sandbox(name: str = "bwrap", **opts: Any) -> Sandbox:
    """Return a new sandbox of backend ``name`` built with ``opts``.

    Raises ValueError for an unknown backend name. Does not probe: call ``probe()`` on it
    (the daemon does so at start) or let the first ``exec`` do it.
    """
    try:
        factory = BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise ValueError(f"unknown sandbox backend {name!r} (known: {known})") from None
    return factory(**opts)


def sandbox_exec(
    argv: Sequence[str],
    *,
    backend: str = "bwrap",
    workspace: Path | None = None,
    network: Network = "none",
    limits: SandboxLimits | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    allow: Sequence[str] = (),
    bundles: Mapping[str, Sequence[str]] | None = None,
    disk_mb: int | None = None,
) -> ExecResult:
    """Run one command the way ``factoryd sandbox exec`` does; return its result.

    Without ``workspace`` it runs in a fresh empty directory that is removed afterwards.
    ``network="allowlist"`` starts an egress proxy for ``allow`` (bundle names from
    ``bundles``, or host[:port]) for this one command. ``disk_mb`` puts the workspace on a
    tmpfs of that many MiB (``factory.sandbox.mounts.capped_workspace``: root only; a given
    workspace is seen through an overlay whose writes are discarded).
    Raises SandboxUnavailable (bubblewrap cannot start or, with ``disk_mb``, no root; the
    message says how to fix it), SandboxError or ValueError as ``Sandbox.exec`` does.
    """
    if disk_mb is not None:
        with capped_workspace(disk_mb, workspace) as capped:
            return sandbox_exec(
                argv,
                backend=backend,
                workspace=capped,
                network=network,
                limits=limits,
                env=env,
                stdin=stdin,
                allow=allow,
                bundles=bundles,
            )
    sandbox = make_sandbox(backend)
    if network == "allowlist":
        egress = start_egress(
            sandbox, allow, bundles=bundles or {}, max_requests=10_000, max_bytes=1 << 34
        )
        try:
            return sandbox_exec_in(egress, argv, workspace, network, limits, env, stdin)
        finally:
            egress.close()
    return sandbox_exec_in(sandbox, argv, workspace, network, limits, env, stdin)


def sandbox_exec_in(
    sandbox: Sandbox,
    argv: Sequence[str],
    workspace: Path | None,
    network: Network,
    limits: SandboxLimits | None,
    env: Mapping[str, str] | None,
    stdin: bytes | None,
) -> ExecResult:
    """Run one command in ``sandbox`` (in a fresh empty directory without ``workspace``)."""
    # bwrap: one sandbox per call, the command itself proves bubblewrap works (no probe);
    # through the egress proxy, its own sandbox's exec (which probes once).
    run = sandbox.run_once if isinstance(sandbox, BwrapSandbox) else sandbox.exec
    if workspace is not None:
        return run(argv, workspace=workspace, network=network, limits=limits, stdin=stdin, env=env)
    with tempfile.TemporaryDirectory(prefix="factoryd-sandbox-") as tmp:
        return run(argv, workspace=Path(tmp), network=network, limits=limits, stdin=stdin, env=env)


__all__ = [
    "BACKENDS",
    "BwrapSandbox",
    "UnsandboxedSandbox",
    "make_sandbox",
    "sandbox_exec",
]
