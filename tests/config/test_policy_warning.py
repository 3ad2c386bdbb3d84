"""`factoryd validate` warns when a failing test is required and the policy has no test command."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from factory.cli import app
from factory.config.loader import validate, validate_warnings

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

FIXER = """\
name: fixer
on:
  - manual: {}
model: claude-sonnet-5
outputs:
  comment: {}
  open_pull_request: {max: 1, require_failing_test: true}
prompt: "%s"
"""
"""An automation that requires a failing test (prompt long enough to be cached)."""


def _config(tmp_path: Path, command: str | None, require: bool = True) -> tuple[Path, Path]:
    folder = tmp_path / "automations"
    folder.mkdir()
    text = FIXER % ("x" * 8000)
    if not require:
        text = text.replace(", require_failing_test: true", "")
    (folder / "fixer.yaml").write_text(text)
    harness = Path(shutil.copytree(ROOT / "harness", tmp_path / "harness"))
    policy = harness / "policy.yaml"
    shown = "null" if command is None else f'"{command}"'
    text = policy.read_text().replace("  command: null", f"  command: {shown}", 1)
    policy.write_text(text)
    return folder, harness


def test_required_failing_test_without_a_command_is_warned_at_its_line(tmp_path: Path) -> None:
    """require_failing_test with tests.command null warns at the open_pull_request line."""
    folder, harness = _config(tmp_path, None)
    warnings = [f"{w.line}:{w.col}: {w.message}" for w in validate_warnings(folder, harness)]
    assert (validate(folder, harness), warnings) == (
        [],
        [
            "7:1: warning: open_pull_request requires a failing test but harness/policy.yaml"
            " names no tests.command: every pull request this automation asks for will be"
            " refused until the policy says how the tests run"
        ],
    )


def test_a_test_command_in_the_policy_silences_the_warning(tmp_path: Path) -> None:
    """With tests.command set, requiring a failing test warns nothing."""
    folder, harness = _config(tmp_path, "python3 -m pytest -q")
    assert validate_warnings(folder, harness) == []


def test_pull_requests_without_the_requirement_need_no_command(tmp_path: Path) -> None:
    """open_pull_request without require_failing_test warns nothing, command or not."""
    folder, harness = _config(tmp_path, None, require=False)
    assert validate_warnings(folder, harness) == []


def test_validate_prints_the_warning_and_still_exits_0(tmp_path: Path) -> None:
    """The CLI prints the warning on stderr, `ok` on stdout, and exits 0."""
    folder, harness = _config(tmp_path, None)
    result = runner.invoke(
        app, ["validate", "--automations", str(folder), "--harness", str(harness)]
    )
    assert (result.exit_code, result.stdout.strip(), "tests.command" in result.stderr) == (
        0,
        "ok",
        True,
    )
