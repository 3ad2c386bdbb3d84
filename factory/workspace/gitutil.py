"""A hardened runner for the git commands the daemon itself runs on the host.

Every host git call goes through ``run_git`` so that none of them reads configuration
or runs code the daemon did not choose:

- the environment is built from scratch (nothing ``GIT_*`` leaks from the parent, such as
  ``GIT_DIR``), with ``GIT_CONFIG_NOSYSTEM=1``, ``GIT_CONFIG_GLOBAL=/dev/null``,
  ``GIT_TERMINAL_PROMPT=0`` and ``HOME``/``XDG_CONFIG_HOME`` pointing to an empty directory;
- ``core.hooksPath=/dev/null`` and ``core.fsmonitor=false`` are always set, and
  ``protocol.ext.allow=never``; ``protocol.file.allow=always`` only when asked for;
- configuration is passed as ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``
  environment variables, never as ``-c`` in argv, so a credential such as an
  ``http.extraHeader`` never shows in ``ps``, in ``.git/config`` or in a log line.

This does not make it safe to run git inside a ``.git`` written by someone else (repo-local
config can still name filters, pagers or ssh commands): the daemon only runs host git in
repositories it created and that no agent could write.
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import structlog

from factory.errors import GitError

log = structlog.get_logger(__name__)

DEFAULT_TIMEOUT_S = 600.0

HARDENING_CONFIG: Mapping[str, str] = {
    "core.hooksPath": "/dev/null",
    "core.fsmonitor": "false",
    "protocol.ext.allow": "never",
}
"""Configuration every host git command runs with."""

_PASSED_ENV = (
    "PATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)
"""Parent environment variables kept (none of them is read as git configuration)."""

_home_lock = threading.Lock()
_empty_home: Path | None = None


def empty_home() -> Path:
    """Return an empty directory (made once per process) to use as git's HOME."""
    global _empty_home
    with _home_lock:
        if _empty_home is None or not _empty_home.is_dir():
            _empty_home = Path(tempfile.mkdtemp(prefix="factoryd-git-home-"))
        return _empty_home


def github_auth_header(token: str) -> str:
    """Return the ``http.extraHeader`` value that authenticates git over HTTPS to GitHub.

    Works for personal access tokens and App installation tokens alike.
    Raises ValueError if ``token`` is empty or spans lines.
    """
    if not token or "\n" in token or "\r" in token:
        raise ValueError("a GitHub token must be a non-empty single line")
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode("ascii")
    return f"Authorization: Basic {basic}"


def git_env(
    *,
    config: Mapping[str, str] | None = None,
    auth_header: str | None = None,
    allow_file_protocol: bool = False,
) -> dict[str, str]:
    """Return a fresh environment for a hardened host git command.

    ``config`` adds ``key: value`` configuration (after the hardening, so it may not undo
    it: hardening keys are refused). ``auth_header`` becomes ``http.extraHeader``.
    Raises ValueError if ``config`` tries to override a hardening key.
    """
    env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    home = str(empty_home())
    env.update(
        HOME=home,
        XDG_CONFIG_HOME=home,
        LC_ALL="C",
        LANG="C",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="/bin/false",
        SSH_ASKPASS="/bin/false",
    )
    pairs = list(HARDENING_CONFIG.items())
    if allow_file_protocol:
        pairs.append(("protocol.file.allow", "always"))
    for key, value in (config or {}).items():
        if key.lower() in {k.lower() for k in HARDENING_CONFIG}:
            raise ValueError(f"git config {key!r} is part of the hardening and cannot be set")
        pairs.append((key, value))
    if auth_header is not None:
        if "\n" in auth_header or "\r" in auth_header:
            raise ValueError("an auth header must be a single line")
        pairs.append(("http.extraHeader", auth_header))
    env["GIT_CONFIG_COUNT"] = str(len(pairs))
    for i, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def run_git(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    config: Mapping[str, str] | None = None,
    auth_header: str | None = None,
    allow_file_protocol: bool = False,
    input: bytes | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git <args>`` hardened (see the module docstring) and return the finished process.

    stdout and stderr are captured as bytes. Raises GitError if ``check`` and git exits
    non-zero or does not finish within ``timeout_s``; the error's stderr never contains
    ``auth_header``.
    """
    argv = ["git", *args]
    what = args[0] if args else ""
    env = git_env(config=config, auth_header=auth_header, allow_file_protocol=allow_file_protocol)
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        log.warning("git_timed_out", command=what, timeout_s=timeout_s)
        raise GitError(what, -1, f"timed out after {timeout_s} s") from exc
    if check and proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace")
        if auth_header:
            stderr = stderr.replace(auth_header, "[redacted]")
        log.info("git_failed", command=what, returncode=proc.returncode)
        raise GitError(what, proc.returncode, stderr)
    return proc


def git_out(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    config: Mapping[str, str] | None = None,
    auth_header: str | None = None,
) -> str:
    """Run ``git <args>`` hardened and return its stdout decoded and stripped.

    Raises GitError as ``run_git`` does.
    """
    proc = run_git(args, cwd=cwd, config=config, auth_header=auth_header)
    return proc.stdout.decode("utf-8", "replace").strip()
