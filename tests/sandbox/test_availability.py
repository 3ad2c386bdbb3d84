"""Failing closed: a missing or broken bubblewrap raises SandboxUnavailable with a fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from factory.errors import SandboxError, SandboxUnavailable
from factory.interfaces import SandboxLimits
from factory.sandbox import BACKENDS, BwrapSandbox, UnsandboxedSandbox, make_sandbox


def test_missing_bwrap_raises_unavailable_with_install_hint(tmp_path: Path) -> None:
    """Pointing at a bwrap that does not exist fails closed and says how to install it."""
    sandbox = BwrapSandbox(bwrap=str(tmp_path / "no-such-bwrap"))
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        sandbox.exec(["true"], workspace=tmp_path)


def test_bwrap_that_cannot_sandbox_raises_unavailable(tmp_path: Path) -> None:
    """A bwrap that fails to start (here: always exits 1) makes probe() fail closed."""
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(SandboxUnavailable, match="unprivileged_userns_clone"):
        BwrapSandbox(bwrap=str(fake)).probe()


def test_probe_succeeds_with_real_bwrap() -> None:
    """probe() runs a real sandbox once and logs sandbox_ready when bubblewrap works here."""
    with capture_logs() as logs:
        BwrapSandbox().probe()
    assert [e["event"] for e in logs if e["event"] == "sandbox_ready"] == ["sandbox_ready"]


def test_workspace_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    """A workspace path that does not exist raises SandboxError naming it."""
    with pytest.raises(SandboxError, match="missing-ws"):
        BwrapSandbox().exec(["true"], workspace=tmp_path / "missing-ws")


def test_backends_map_names_to_classes() -> None:
    """BACKENDS offers "bwrap" and "none"."""
    assert {"bwrap": BwrapSandbox, "none": UnsandboxedSandbox} == BACKENDS


def test_make_sandbox_passes_options() -> None:
    """make_sandbox builds the named backend with the given options."""
    sandbox = make_sandbox("bwrap", bwrap="/opt/bwrap")
    assert (type(sandbox), getattr(sandbox, "bwrap", None)) == (BwrapSandbox, "/opt/bwrap")


def test_make_sandbox_unknown_name_raises_value_error() -> None:
    """An unknown backend name is a ValueError that lists the known ones."""
    with pytest.raises(ValueError, match="bwrap, none"):
        make_sandbox("docker")


@pytest.mark.parametrize(
    "limits",
    [SandboxLimits(timeout_s=0), SandboxLimits(memory_mb=0), SandboxLimits(max_processes=-1)],
    ids=["timeout", "memory", "processes"],
)
def test_non_positive_limits_are_refused(tmp_path: Path, limits: SandboxLimits) -> None:
    """A limit that is zero or negative raises ValueError before anything runs."""
    with pytest.raises(ValueError, match="must be positive"):
        BwrapSandbox().exec(["true"], workspace=tmp_path, limits=limits)


def test_env_key_with_equals_sign_is_refused(tmp_path: Path) -> None:
    """An extra env entry whose key contains "=" raises ValueError."""
    with pytest.raises(ValueError, match="A=B"):
        BwrapSandbox().exec(["true"], workspace=tmp_path, env={"A=B": "x"})
