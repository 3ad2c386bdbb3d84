"""What to tell the operator when bubblewrap cannot sandbox, and how to fix it."""

from __future__ import annotations

FIX_HINT = (
    "Fix: install bubblewrap (apt-get install bubblewrap); allow unprivileged user namespaces "
    "(sysctl -w kernel.unprivileged_userns_clone=1 on Debian, "
    "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu >= 23.10, "
    "user.max_user_namespaces > 0); in a container, run it with --privileged or with "
    "--security-opt seccomp=unconfined --security-opt apparmor=unconfined; or, knowingly, "
    "set `sandbox: {backend: none}` to run commands unsandboxed."
)

NO_PIDS_CGROUP = (
    "running as root, so a pids cgroup is needed to limit processes "
    "(RLIMIT_NPROC does not bind root) but no writable cgroup with the "
    "pids controller was found. Fix: run factoryd as a normal user, or "
    "give it a writable /sys/fs/cgroup (e.g. systemd Delegate=yes)."
)
"""Why a root daemon without a writable pids cgroup cannot sandbox, and how to fix it."""
