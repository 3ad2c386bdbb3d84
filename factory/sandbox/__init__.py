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
) -> ExecResult:
    """Run one command the way ``factoryd sandbox exec`` does; return its result.

    Without ``workspace`` it runs in a fresh empty directory that is removed afterwards.
    Raises SandboxUnavailable (bubblewrap cannot start; message says how to fix it),
    SandboxError or ValueError as ``Sandbox.exec`` does.
    """
    sandbox = make_sandbox(backend)
    # bwrap: one sandbox per call, the command itself proves bubblewrap works (no probe).
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
