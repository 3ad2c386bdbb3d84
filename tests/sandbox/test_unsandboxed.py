"""The explicit unsandboxed backend: loud, env-cleared, same time and output caps."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from factory.interfaces import SandboxLimits
from factory.sandbox import UnsandboxedSandbox, sandbox_exec


def test_every_exec_logs_sandbox_disabled_warning(workspace: Path) -> None:
    """Each command run without a sandbox logs a sandbox_disabled warning."""
    with capture_logs() as logs:
        UnsandboxedSandbox().exec(["true"], workspace=workspace)
        UnsandboxedSandbox().exec(["true"], workspace=workspace)
    warnings = [e for e in logs if e["event"] == "sandbox_disabled"]
    assert [e["log_level"] for e in warnings] == ["warning", "warning"]


def test_daemon_env_is_not_inherited(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret in the daemon's environment is not in the command's environment."""
    monkeypatch.setenv("FACTORY_CANARY_SECRET", "canary-unsandboxed")
    result = UnsandboxedSandbox().exec(["env"], workspace=workspace, env={"EXTRA": "1"})
    assert ("canary-unsandboxed" in result.stdout, "EXTRA=1" in result.stdout) == (False, True)


def test_runs_in_the_workspace(workspace: Path) -> None:
    """The command's cwd is the workspace."""
    result = UnsandboxedSandbox().exec(["pwd"], workspace=workspace)
    assert result.stdout.strip() == str(workspace.resolve())


def test_timeout_kills_the_command(workspace: Path) -> None:
    """A command past its timeout is killed and marked timed out."""
    result = UnsandboxedSandbox().exec(
        ["sleep", "30"], workspace=workspace, limits=SandboxLimits(timeout_s=0.5)
    )
    assert (result.timed_out, result.killed_reason, result.exit_code) == (True, "timeout", 137)


def test_output_cap_applies(workspace: Path) -> None:
    """Output past max_output_bytes is cut and the command killed."""
    result = UnsandboxedSandbox().exec(
        ["yes"], workspace=workspace, limits=SandboxLimits(max_output_bytes=1000)
    )
    assert (len(result.stdout), result.killed_reason) == (1000, "output")


def test_sandbox_exec_helper_runs_in_a_fresh_workspace() -> None:
    """sandbox_exec without a workspace runs in an empty temporary directory (CLI helper)."""
    result = sandbox_exec(["sh", "-c", "pwd; ls -A"])
    assert result.stdout == "/workspace\n"
