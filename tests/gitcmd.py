"""The tests' own plain git (not the daemon's hardened one): a fixed, isolated environment."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

GIT_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_TERMINAL_PROMPT": "0",
}
"""No user or system config, a fixed identity, never a prompt."""


def git(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    """Run plain git in ``cwd`` and return its stripped stdout; raises CalledProcessError."""
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env={**GIT_ENV, **(env or {})}, capture_output=True, check=True
    )
    return proc.stdout.decode().strip()


def write_files(root: Path, files: Mapping[str, str | bytes | None]) -> None:
    """Write ``files`` under ``root`` (parents made; bytes as is; None deletes the file)."""
    for name, content in files.items():
        path = root / name
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
