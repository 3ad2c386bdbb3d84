"""``factoryd sandbox exec``: one sandbox per call, the command itself is the probe."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.errors import SandboxUnavailable
from factory.sandbox import BwrapSandbox, sandbox_exec
from factory.sandbox.bwrap import FIX_HINT


def _fake_bwrap(tmp_path: Path, body: str) -> Path:
    """An executable script named bwrap in its own directory (put first on PATH)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "bwrap"
    fake.write_text(f"#!/bin/sh\n{body}\n")
    fake.chmod(0o755)
    return fake


def test_sandbox_exec_starts_bwrap_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One ``sandbox_exec`` call starts bubblewrap exactly once (no separate probe)."""
    count = tmp_path / "count"
    fake = _fake_bwrap(tmp_path, f"echo run >> {count}")
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    sandbox_exec(["true"], workspace=tmp_path)
    assert count.read_text() == "run\n"


def test_sandbox_exec_runs_the_command_in_a_real_sandbox() -> None:
    """The command's output comes back, and it ran with the sandbox's hostname."""
    result = sandbox_exec(["sh", "-c", "echo hi; hostname"])
    assert (result.exit_code, result.stdout) == (0, "hi\nsandbox\n")


def test_run_once_reports_a_bwrap_that_cannot_set_up(tmp_path: Path) -> None:
    """bwrap failing with its own ``bwrap:`` message raises SandboxUnavailable with the fix."""
    fake = _fake_bwrap(tmp_path, "echo 'bwrap: No permissions to create new namespace' >&2; exit 1")
    with pytest.raises(SandboxUnavailable) as caught:
        BwrapSandbox(bwrap=str(fake), use_cgroup=False).run_once(["true"], workspace=tmp_path)
    expected = f"bubblewrap ({fake}) cannot start: bwrap: No permissions to create new namespace"
    assert str(caught.value) == f"{expected}. {FIX_HINT}"


def test_run_once_returns_a_failing_command_as_a_result(workspace: Path) -> None:
    """A command that fails on its own is a result (exit code, stderr), not an error."""
    result = BwrapSandbox(use_cgroup=False).run_once(
        ["sh", "-c", "echo nope >&2; exit 1"], workspace=workspace
    )
    assert (result.exit_code, result.stderr) == (1, "nope\n")


def test_run_once_counts_as_the_probe(tmp_path: Path) -> None:
    """After run_once worked, a later exec starts bwrap only for its own command."""
    count = tmp_path / "count"
    fake = _fake_bwrap(tmp_path, f"echo run >> {count}")
    sandbox = BwrapSandbox(bwrap=str(fake), use_cgroup=False)
    sandbox.run_once(["true"], workspace=tmp_path)
    sandbox.exec(["true"], workspace=tmp_path)
    assert count.read_text() == "run\nrun\n"
