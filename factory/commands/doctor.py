"""``factoryd doctor``: every piece the factory needs, checked, each problem with its fix.

Host checks live here (sandbox, cgroups, git, data dir, disk, config); credential checks,
each one harmless call to the service, in factory.commands.doctor_credentials. No check
raises: each returns Findings, and the command exits 1 if any is not ok.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from factory.commands.doctor_credentials import CREDENTIAL_CHECKS
from factory.commands.findings import Check, Finding, ok, problem
from factory.config.loader import validate
from factory.errors import SandboxUnavailable
from factory.sandbox.bwrap import NO_PIDS_CGROUP, BwrapSandbox
from factory.sandbox.cgroup import find_pids_root
from factory.sandbox.limits import PRLIMIT
from factory.settings import Settings

MIN_FREE_BYTES = 2 * 1024**3
"""Free space the data dir's disk needs: mirrors, per-run checkouts and the store."""


def check_sandbox(settings: Settings) -> list[Finding]:
    """bubblewrap on PATH, prlimit, and a real sandbox (new user namespace) started."""
    name = "sandbox"
    binary = shutil.which("bwrap")
    if binary is None:
        return problem(
            name,
            "bubblewrap (bwrap) not found on PATH",
            "install bubblewrap: apt-get install bubblewrap (dnf install bubblewrap)",
        )
    if not Path(PRLIMIT).exists():
        return problem(name, f"{PRLIMIT} is missing", "apt-get install util-linux")
    try:
        BwrapSandbox(binary, use_cgroup=False).probe()
    except SandboxUnavailable as exc:
        detail, _, fix = str(exc).partition(" Fix: ")
        return problem(name, detail, fix or "see README, Sandbox")
    return ok(name, f"{binary} starts a sandbox in new user, pid and network namespaces")


def check_cgroups(settings: Settings) -> list[Finding]:
    """A root daemon needs a writable pids cgroup; others limit processes by RLIMIT_NPROC."""
    if os.geteuid() != 0:
        return ok("cgroups", "not needed: not running as root (RLIMIT_NPROC limits processes)")
    root = find_pids_root()
    if root is None:
        detail, _, fix = NO_PIDS_CGROUP.partition(" Fix: ")
        return problem("cgroups", detail, fix)
    return ok("cgroups", f"pids cgroups under {root}")


def check_git(settings: Settings) -> list[Finding]:
    """git on PATH: mirrors, checkouts and patches are made with it."""
    found = shutil.which("git")
    if found is None:
        return problem("git", "git not found on PATH", "apt-get install git")
    return ok("git", found)


def check_data_dir(settings: Settings) -> list[Finding]:
    """The data dir exists (or can be made), is writable, and its disk has room."""
    data = settings.data_dir
    fix = f"make {data} writable by this user, or set FACTORY_DATA_DIR to a directory that is"
    try:
        data.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data, prefix=".doctor-"):
            pass
    except OSError as exc:
        return problem("data dir", f"{data} is not writable: {exc.strerror or exc}", fix)
    free = shutil.disk_usage(data).free
    gib = f"{free / 1024**3:.1f} GiB free"
    if free < MIN_FREE_BYTES:
        return [
            Finding("data dir", True, f"{data} is writable"),
            Finding(
                "disk",
                False,
                f"{gib} on the disk of {data}; the factory wants at least 2 GiB",
                "free space there, or set FACTORY_DATA_DIR to a bigger disk",
            ),
        ]
    return [Finding("data dir", True, f"{data} is writable"), Finding("disk", True, gib)]


def check_config(settings: Settings) -> list[Finding]:
    """The automations and harness folders load without an error."""
    issues = validate(settings.automations_dir, settings.harness_dir)
    if issues:
        listed = "; ".join(str(i) for i in issues[:5])
        more = f" (and {len(issues) - 5} more)" if len(issues) > 5 else ""
        return problem(
            "config",
            f"{len(issues)} error(s): {listed}{more}",
            "fix them (`factoryd validate --config DIR` lists all), or write a new config "
            "with `factoryd init DIR` and pass `--config DIR`",
        )
    return ok("config", f"{settings.automations_dir} and {settings.harness_dir} are valid")


HOST_CHECKS: list[Check] = [check_sandbox, check_cgroups, check_git, check_data_dir, check_config]
"""The host's checks, in the order they print."""


def run_checks(settings: Settings, checks: list[Check] | None = None) -> list[Finding]:
    """Run every check (default: host, config and credentials) and return the findings."""
    chosen = checks if checks is not None else [*HOST_CHECKS, *CREDENTIAL_CHECKS]
    return [finding for check in chosen for finding in check(settings)]
