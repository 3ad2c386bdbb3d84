"""`factoryd sandbox exec --disk SIZE`: the command's workspace is on a tmpfs of that size."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import app

runner = CliRunner()
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="a tmpfs mount needs root")
DD = ("dd", "if=/dev/zero", "of=big", "bs=1M")


@needs_root
def test_dd_past_the_disk_cap_fails_with_enospc() -> None:
    """Writing 16 MiB into an 8 MiB --disk workspace fails inside with ENOSPC."""
    result = runner.invoke(app, ["sandbox", "exec", "--disk", "8m", "--", *DD, "count=16"])
    assert (result.exit_code != 0, "No space left on device" in result.stderr) == (True, True)


@needs_root
def test_a_write_under_the_disk_cap_succeeds() -> None:
    """Writing 4 MiB into an 8 MiB --disk workspace works."""
    result = runner.invoke(app, ["sandbox", "exec", "--disk", "8m", "--", *DD, "count=4"])
    assert result.exit_code == 0, result.stderr


@needs_root
def test_given_workspace_is_capped_too(tmp_path: Path) -> None:
    """With --workspace the command sees its files, and a write past the cap fails."""
    (tmp_path / "seen.txt").write_text("here\n")
    script = "cat seen.txt; dd if=/dev/zero of=big bs=1M count=16 2>/dev/null || echo enospc"
    result = runner.invoke(
        app,
        ["sandbox", "exec", "--disk", "8m", "--workspace", str(tmp_path), "--", "sh", "-c", script],
    )
    assert (result.exit_code, result.stdout) == (0, "here\nenospc\n")


@needs_root
def test_given_workspace_is_left_unchanged_on_the_host(tmp_path: Path) -> None:
    """With --disk the command's writes go to its capped layer, never the host folder."""
    (tmp_path / "seen.txt").write_text("here\n")
    result = runner.invoke(
        app,
        [
            "sandbox",
            "exec",
            "--disk",
            "8m",
            "--workspace",
            str(tmp_path),
            "--",
            "sh",
            "-c",
            "echo x > new.txt; rm seen.txt",
        ],
    )
    assert (result.exit_code, sorted(p.name for p in tmp_path.iterdir())) == (0, ["seen.txt"])


@needs_root
def test_no_mount_is_left_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the command its tmpfs is unmounted and its folder gone (temp dirs under tmp_path)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = runner.invoke(app, ["sandbox", "exec", "--disk", "8m", "--", "true"])
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    left = [m for m in mounts if m.startswith(str(tmp_path))]
    assert (result.exit_code, left, list(tmp_path.iterdir())) == (0, [], [])


def test_a_bad_disk_size_is_refused() -> None:
    """--disk that is not a size is a usage error (exit 2)."""
    result = runner.invoke(app, ["sandbox", "exec", "--disk", "lots", "--", "true"])
    assert result.exit_code == 2
