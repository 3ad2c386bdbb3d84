"""Resource limits applied to a sandboxed command through ``prlimit`` (util-linux).

Why a wrapper command and not ``preexec_fn``: the daemon runs commands from several threads,
where ``preexec_fn`` is unsafe; and for bubblewrap RLIMIT_NPROC must be set *inside* the new
user namespace so that, on Linux >= 5.14 (per-namespace ucounts), the process count is per
sandbox rather than shared by every process of the same uid. RLIMIT_NPROC is not enforced
for uid 0, so a root daemon adds a pids cgroup (see ``cgroup.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from factory.interfaces import SandboxLimits

PRLIMIT = "/usr/bin/prlimit"
"""Where util-linux installs prlimit on Debian (also inside the sandbox: /usr is bound)."""


def check_limits(limits: SandboxLimits) -> None:
    """Raise ValueError if a limit is not positive."""
    if limits.timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {limits.timeout_s}")
    if limits.memory_mb <= 0:
        raise ValueError(f"memory_mb must be positive, got {limits.memory_mb}")
    if limits.max_processes <= 0:
        raise ValueError(f"max_processes must be positive, got {limits.max_processes}")
    if limits.max_output_bytes <= 0:
        raise ValueError(f"max_output_bytes must be positive, got {limits.max_output_bytes}")


def prlimit_argv(
    argv: Sequence[str], limits: SandboxLimits, *, nproc: bool = True, prlimit: str = PRLIMIT
) -> list[str]:
    """Return ``argv`` wrapped so it runs with the address-space (and process) limits.

    Soft and hard limits are both set, so the command cannot raise them again.
    """
    mem = limits.memory_mb * 1024 * 1024
    wrapped = [prlimit, f"--as={mem}:{mem}", "--core=0:0"]
    if nproc:
        wrapped.append(f"--nproc={limits.max_processes}:{limits.max_processes}")
    return [*wrapped, "--", *argv]
