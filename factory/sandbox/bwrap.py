"""The bubblewrap backend: each command in fresh namespaces over one workspace.

Design: ``bwrap --unshare-all --unshare-user`` gives new user/pid/ipc/uts/net/cgroup
namespaces (``--share-net`` only for network "full"); ``--new-session`` defeats TIOCSTI;
``--die-with-parent`` plus the pid namespace means killing ``bwrap`` kills every process of the
command. The environment is cleared and rebuilt from an allowlist (never the daemon's). Only
system directories are bound, read-only; the workspace is the one writable bind, at
``/workspace``; ``/tmp`` is a private tmpfs, ``/proc`` fresh, ``/dev`` minimal, no home and
none of the daemon's directories. /etc is one read-only bind of a private copy of the
allowlisted entries (``etcview.py``: one mount, not one per entry). Memory and process counts
are limited by ``prlimit`` inside the namespace; a root daemon also puts the commands in a pids
cgroup (RLIMIT_NPROC does not bind root): a leaf per command in the run's cgroup, made at
``open_run`` and removed at ``close_run`` (``runcgroups.py``), else one of its own; bwrap is
exec'd by a spare already in the leaf (``spares.py``: made ahead of time within a run), which
sets the rlimits itself (``ulimit``, no ``prlimit`` exec on the command's path). If
bubblewrap cannot start, ``probe()`` raises SandboxUnavailable: fail closed. ``run_once``
is probe and command in one sandbox.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import threading
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import structlog

from factory.errors import SandboxError, SandboxUnavailable
from factory.interfaces import ExecResult, Network, SandboxLimits
from factory.sandbox import etcview
from factory.sandbox.cgroup import PidsCgroup, find_pids_root, sweep_stale
from factory.sandbox.egress import EgressAccess
from factory.sandbox.environment import build_env
from factory.sandbox.hints import FIX_HINT as FIX_HINT  # re-exported: tests, doctor
from factory.sandbox.hints import NO_PIDS_CGROUP as NO_PIDS_CGROUP
from factory.sandbox.limits import PRLIMIT, check_limits, prlimit_argv
from factory.sandbox.process import ProcessTable
from factory.sandbox.runcgroups import RunCgroups
from factory.sandbox.spares import RunSpares, command_spare

log = structlog.get_logger(__name__)

WORKSPACE = "/workspace"
"""Where the workspace appears inside the sandbox (also the cwd)."""
HOME = "/tmp"  # noqa: S108  (inside the sandbox: a private tmpfs)
"""HOME inside: the private tmpfs, so tools' dotfiles neither persist nor land in the patch."""
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""System directories, bound read-only (or re-created as symlinks on merged-/usr systems)."""
ETC_ENTRIES = (
    "/etc/alternatives",
    "/etc/ssl/certs",
    "/etc/ssl/openssl.cnf",
    "/etc/ca-certificates",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/localtime",
    "/etc/protocols",
    "/etc/services",
    "/etc/mime.types",
)
"""The pieces of /etc that git, python3, bash and coreutils need; nothing with secrets.

Copied (``etcview.EtcView``) into one directory that is bound at /etc.

Not /etc/ssl/private: a root daemon's sandbox runs as (namespaced) uid 0, which owns it."""
HARDENING_FLAGS = ("--disable-userns", "--cap-drop", "--new-session")
"""Flags that each close one attack (nested user namespaces, capabilities, TIOCSTI).

``BwrapSandbox(without=...)`` leaves some out: only for the tests that prove each is needed."""
PROBE_TIMEOUT_S = 30.0
"""How long the probe's ``true`` may take before bubblewrap counts as broken."""
CGROUP_OVERHEAD = 2
"""Tasks in a pids cgroup that are not the command: bwrap (the spare execs it), its pid 1."""


class BwrapSandbox:
    """Runs each command under bubblewrap; holds no secrets and shows only the workspace."""

    name = "bwrap"

    def __init__(
        self,
        bwrap: str = "bwrap",
        *,
        use_cgroup: bool | None = None,
        without: Collection[str] = (),
    ) -> None:
        """Use the ``bwrap`` binary (a name on PATH or a path).

        ``use_cgroup``: put each command in a pids cgroup; default: only when running as root
        (where RLIMIT_NPROC does not apply). ``without``: HARDENING_FLAGS to leave out, only
        for tests that show the attack each one stops. Nothing is checked until
        ``probe()``/``exec()``. Raises ValueError for a ``without`` entry not in HARDENING_FLAGS.
        """
        unknown = sorted(set(without) - set(HARDENING_FLAGS))
        if unknown:
            raise ValueError(f"without: {unknown} are not hardening flags {HARDENING_FLAGS}")
        self._without = frozenset(without)
        if self._without:
            log.warning("sandbox_weakened", without=sorted(self._without))
        self.bwrap = bwrap
        self._use_cgroup = os.geteuid() == 0 if use_cgroup is None else use_cgroup
        self._cgroup_base: Path | None = None
        self._runs: RunCgroups | None = None
        self._spares: RunSpares | None = None
        self._etc = etcview.shared(ETC_ENTRIES)
        self._probed = False
        self._found: str | None = None
        self._probe_lock = threading.Lock()
        self._procs = ProcessTable()

    def probe(self) -> None:
        """Check once that a sandbox can really be created (runs ``true`` in one).

        Raises SandboxUnavailable, with how to fix it, if bwrap is missing or cannot create
        the namespaces, if prlimit is missing, or if a root daemon has no writable pids cgroup.
        """
        with self._probe_lock:
            if self._probed:
                return
            binary = self._check_host()
            with tempfile.TemporaryDirectory(prefix="factoryd-probe-") as tmp:
                result = self._run(
                    ["true"],
                    binary,
                    Path(tmp),
                    "none",
                    SandboxLimits(timeout_s=PROBE_TIMEOUT_S),
                    None,
                    None,
                )
            self._fail_unless_started(binary, result)
            self._mark_ready(binary)

    def _check_host(self) -> str:
        """Check the host side (bwrap, prlimit, a root daemon's cgroup); return the binary.

        Also the recovery of a daemon killed before it cleaned up: its cgroups and /etc
        copies are removed. Raises SandboxUnavailable as ``probe`` does.
        """
        binary = self._binary()
        if not Path(PRLIMIT).exists():
            raise SandboxUnavailable(f"{PRLIMIT} is missing; apt-get install util-linux")
        if self._use_cgroup:
            self._cgroup_base = find_pids_root()
            if self._cgroup_base is None:
                raise SandboxUnavailable(NO_PIDS_CGROUP)
            sweep_stale(self._cgroup_base)
            self._runs = RunCgroups(self._cgroup_base)
            if not (self._cgroup_base / "cgroup.controllers").exists():  # v1: leaves rename
                self._spares = RunSpares()
        etcview.sweep_stale()
        return binary

    @staticmethod
    def _fail_unless_started(binary: str, result: ExecResult) -> None:
        """Raise SandboxUnavailable (the binary, its error, the fix) unless ``result`` is 0."""
        if result.exit_code != 0:
            detail = (result.stderr.strip() or f"exit code {result.exit_code}")[:500]
            raise SandboxUnavailable(f"bubblewrap ({binary}) cannot start: {detail}. {FIX_HINT}")

    def _mark_ready(self, binary: str) -> None:
        self._probed = True
        log.info("sandbox_ready", backend=self.name, bwrap=binary, cgroup=self._use_cgroup)

    def exec(
        self,
        argv: Sequence[str],
        *,
        workspace: Path,
        network: Network = "none",
        limits: SandboxLimits | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        egress: EgressAccess | None = None,
    ) -> ExecResult:
        """Run ``argv`` in a fresh sandbox with ``workspace`` at /workspace as cwd.

        ``network="allowlist"`` needs ``egress``: the run's proxy, the one way out.

        Returns the result even when the command fails, times out or is killed.
        Raises SandboxUnavailable if bubblewrap cannot start, SandboxError if the workspace
        is not a directory, ValueError for bad arguments (empty argv, bad limits or env).
        """
        checked, ws = self._checked(argv, workspace, network, limits, egress)
        self.probe()
        return self._run(argv, self._binary(), ws, network, checked, stdin, env, egress)

    @staticmethod
    def _checked(
        argv: Sequence[str],
        workspace: Path,
        network: Network,
        limits: SandboxLimits | None,
        egress: EgressAccess | None = None,
    ) -> tuple[SandboxLimits, Path]:
        """Return the limits to use and the resolved workspace; raise as ``exec`` does."""
        if not argv:
            raise ValueError("argv must not be empty")
        if (network == "allowlist") != (egress is not None):
            raise ValueError("network 'allowlist' needs an egress proxy, and only it takes one")
        if network not in ("none", "full", "allowlist"):
            raise ValueError(f"network must be 'none' or 'full', got {network!r}")
        limits = limits or SandboxLimits()
        check_limits(limits)
        ws = workspace.resolve()
        if not ws.is_dir():
            raise SandboxError(f"workspace {str(workspace)!r} is not a directory")
        return limits, ws

    def kill_all(self) -> None:
        """Kill every command this sandbox still runs; their results say "killed"."""
        self._procs.kill_all("killed")

    def open_run(self, workspace: Path) -> None:
        """Start a run over ``workspace``: its commands share one pids cgroup (root only).

        Raises SandboxUnavailable if bubblewrap cannot start or the cgroup cannot be made.
        """
        self.probe()
        if self._runs is not None:
            try:
                self._runs.open(workspace.resolve())
            except OSError as exc:
                raise SandboxUnavailable(f"cannot create a pids cgroup: {exc}") from exc
            run = self._runs.path(workspace.resolve())
            if self._spares is not None and run is not None:
                self._spares.open(workspace.resolve(), run)

    def close_run(self, workspace: Path) -> None:
        """End the run over ``workspace``: kill what is left of it and remove its cgroup."""
        if self._spares is not None:
            self._spares.close(workspace.resolve())
        if self._runs is not None:
            self._runs.close(workspace.resolve())

    def run_once(
        self,
        argv: Sequence[str],
        *,
        workspace: Path,
        network: Network = "none",
        limits: SandboxLimits | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Run one command with no separate probe sandbox (``factoryd sandbox exec``).

        Same result and errors as ``exec``; bubblewrap failing to set up the sandbox (it
        exits 1 with a ``bwrap:`` message) raises SandboxUnavailable as the probe would.
        """
        with self._probe_lock:
            if not self._probed:
                limits, ws = self._checked(argv, workspace, network, limits)
                binary = self._check_host()
                result = self._run(argv, binary, ws, network, limits, stdin, env)
                if result.exit_code == 1 and result.stderr.startswith("bwrap: "):
                    self._fail_unless_started(binary, result)  # the sandbox was never set up
                self._mark_ready(binary)
                return result
        return self.exec(
            argv, workspace=workspace, network=network, limits=limits, stdin=stdin, env=env
        )

    def build_argv(
        self,
        argv: Sequence[str],
        *,
        binary: str,
        workspace: Path,
        network: Network,
        limits: SandboxLimits,
        env: Mapping[str, str],
        egress: EgressAccess | None = None,
        rlimits: bool = True,
    ) -> list[str]:
        """Return the full bwrap command line for one command (exposed for tests/bench).

        ``rlimits=False``: without ``prlimit`` (a spare sets the limits before it execs bwrap).
        """
        args = [binary, "--unshare-all", "--unshare-user"]
        if "--disable-userns" not in self._without:
            args.append("--disable-userns")
        if "--cap-drop" not in self._without:
            args += ["--cap-drop", "ALL"]
        if network == "full":
            args.append("--share-net")
        if "--new-session" not in self._without:
            args.append("--new-session")
        args += ["--die-with-parent", "--hostname", "sandbox", "--clearenv"]
        for d in SYSTEM_DIRS:
            if os.path.islink(d):
                args += ["--symlink", os.readlink(d), d]
            else:
                args += ["--ro-bind-try", d, d]
        args += ["--ro-bind", str(self._etc_dir()), "/etc"]
        args += ["--tmpfs", HOME, "--proc", "/proc", "--dev", "/dev"]
        args += ["--bind", str(workspace), WORKSPACE, "--chdir", WORKSPACE]
        if egress is not None:  # the proxy's socket + bridge; proxy variables win over env
            args += egress.bwrap_args()
            env, argv = {**env, **egress.env()}, egress.wrap(argv)
        args += ["--remount-ro", "/"]  # bwrap's root is a tmpfs; nothing but binds on it
        for key, value in env.items():
            args += ["--setenv", key, value]
        return [*args, "--", *(prlimit_argv(argv, limits) if rlimits else argv)]

    def _binary(self) -> str:
        """Return the bwrap path. Raises SandboxUnavailable if it does not exist.

        The last path found is checked first (one access(2), not a walk of PATH)."""
        if self._found is not None and os.access(self._found, os.X_OK):
            return self._found
        found = shutil.which(self.bwrap)
        if found is None:
            raise SandboxUnavailable(f"bubblewrap not found at {self.bwrap!r}. {FIX_HINT}")
        self._found = found
        return found

    def _etc_dir(self) -> Path:
        """Return the /etc copy to bind. Raises SandboxUnavailable if it cannot be made."""
        try:
            return self._etc.path()
        except OSError as exc:
            raise SandboxUnavailable(f"cannot prepare the sandbox's /etc: {exc}") from exc

    def _run(
        self,
        argv: Sequence[str],
        binary: str,
        workspace: Path,
        network: Network,
        limits: SandboxLimits,
        stdin: bytes | None,
        env: Mapping[str, str] | None,
        egress: EgressAccess | None = None,
    ) -> ExecResult:
        full = self.build_argv(
            argv,
            binary=binary,
            workspace=workspace,
            network=network,
            limits=limits,
            env=build_env(HOME, env),
            egress=egress,
            rlimits=self._cgroup_base is None,  # else the spare that execs bwrap sets them
        )
        cgroup: PidsCgroup | None = None
        started = None
        if self._cgroup_base is not None:
            max_pids = limits.max_processes + CGROUP_OVERHEAD
            run = self._runs.path(workspace) if self._runs is not None else None
            try:  # in a leaf of the run's cgroup if a run is open, else in one of its own
                spare = command_spare(
                    run or self._cgroup_base, self._spares, workspace, max_pids, stdin is not None
                )
            except OSError as exc:
                raise SandboxUnavailable(f"cannot create a pids cgroup: {exc}") from exc
            cgroup = spare.cgroup
            started = (spare.proc, functools.partial(spare.release, full, max_pids, limits))
        try:
            result = self._procs.run(
                full,
                cwd=workspace,
                env={},
                limits=limits,
                stdin=stdin,
                on_kill=cgroup.kill if cgroup else None,
                started=started,
            )
        except OSError as exc:
            raise SandboxUnavailable(f"cannot start {binary}: {exc}. {FIX_HINT}") from exc
        finally:
            if cgroup is not None:
                cgroup.remove()
            if self._spares is not None:
                self._spares.refill(workspace)  # no-op outside an open run
        log.debug(
            "sandbox_exec",
            backend=self.name,
            program=argv[0],
            exit_code=result.exit_code,
            killed_reason=result.killed_reason,
            duration_s=round(result.duration_s, 3),
        )
        return result
