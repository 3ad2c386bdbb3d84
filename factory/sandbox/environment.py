"""The allowlisted environment a sandboxed command gets: never the daemon's own."""

from __future__ import annotations

from collections.abc import Mapping

SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
"""PATH inside the sandbox: system directories only (no pyenv, no home)."""


def build_env(home: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment for one command: a fixed allowlist plus the caller's ``extra``.

    Nothing is read from ``os.environ``. Raises ValueError for a key or value that cannot be
    an environment entry (empty key, ``=`` in a key, NUL anywhere).
    """
    env = {
        "PATH": SANDBOX_PATH,
        "HOME": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "TMPDIR": "/tmp",  # noqa: S108  (bwrap: private tmpfs; none: the host's /tmp)
        # Bytecode caches would end up in the agent's patch as binary files.
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for key, value in (extra or {}).items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise ValueError(f"invalid environment entry for the sandbox: {key!r}")
        env[key] = value
    return env
