"""The explicit unsandboxed backend (``sandbox: {backend: none}``).

Commands run as plain subprocesses in the workspace, with the same cleared + allowlisted
environment, wall timeout, output cap and memory limit as bubblewrap, but NO isolation: the
command sees the whole filesystem, the network and the host's processes, and a process count
limit is not applied (RLIMIT_NPROC counts every process of the daemon's uid). Every exec logs
``sandbox_disabled`` at warning level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import structlog

from factory.errors import SandboxError
from factory.interfaces import ExecResult, Network, SandboxLimits
from factory.sandbox.environment import build_env
from factory.sandbox.limits import check_limits, prlimit_argv
from factory.sandbox.process import ProcessTable

log = structlog.get_logger(__name__)


class UnsandboxedSandbox:
    """Runs commands directly on the host, loudly; for machines without bubblewrap."""

    name = "none"

    def __init__(self) -> None:
        """Nothing to configure: there is no isolation to set up."""
        self._procs = ProcessTable()

    def probe(self) -> None:
        """Always succeeds; logs that commands will not be sandboxed."""
        log.warning("sandbox_disabled", backend=self.name)

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
        """Run ``argv`` on the host with ``workspace`` as cwd; ``network`` is not enforced.

        Returns the result even when the command fails or times out. Raises SandboxError if
        the workspace is not a directory or the program cannot start, ValueError for bad
        arguments.
        """
        if not argv:
            raise ValueError("argv must not be empty")
        limits = limits or SandboxLimits()
        check_limits(limits)
        ws = workspace.resolve()
        if not ws.is_dir():
            raise SandboxError(f"workspace {str(workspace)!r} is not a directory")
        log.warning(
            "sandbox_disabled", backend=self.name, program=argv[0], network_requested=network
        )
        try:
            return self._procs.run(
                prlimit_argv(argv, limits, nproc=False),
                cwd=ws,
                env=build_env(str(ws), env),
                limits=limits,
                stdin=stdin,
            )
        except OSError as exc:
            raise SandboxError(f"cannot start {argv[0]!r} in {str(ws)!r}: {exc}") from exc

    def kill_all(self) -> None:
        """Kill every command this backend still runs; their results say "killed"."""
        self._procs.kill_all("killed")

    def open_run(self, workspace: Path) -> None:
        """Nothing is shared between a run's commands here: no-op."""

    def close_run(self, workspace: Path) -> None:
        """Nothing was shared: no-op."""
