"""`factoryd validate` warns when an automation's cacheable prefix is below its model's minimum."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from factory.cli import app
from factory.config.loader import validate, validate_warnings

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

TEMPLATE = """\
name: {name}
on:
  - manual: {{}}
model: {model}
outputs:
  comment: {{}}
prompt: "{prompt}"
"""


def _config(tmp_path: Path, model: str, prompt_chars: int) -> tuple[Path, Path]:
    """One automation on ``model`` whose prompt is ``prompt_chars`` characters, no documents."""
    folder = tmp_path / "automations"
    folder.mkdir()
    text = TEMPLATE.format(name="short", model=model, prompt="x" * prompt_chars)
    (folder / "short.yaml").write_text(text)
    harness = Path(shutil.copytree(ROOT / "harness", tmp_path / "harness"))
    return folder, harness


def test_haiku_prompt_below_4096_tokens_is_warned_at_the_model_line(tmp_path: Path) -> None:
    """A 10,000-character prompt (about 2,500 tokens) on Haiku 4.5 warns, at model:."""
    folder, harness = _config(tmp_path, "claude-haiku-4-5", 10_000)
    warnings = [f"{w.line}:{w.col}: {w.message}" for w in validate_warnings(folder, harness)]
    assert warnings == [
        "4:1: warning: cacheable prefix is about 2500 tokens (harness documents + prompt, "
        "4 characters a token), below claude-haiku-4-5's minimum of 4096: its prompt is not "
        "cached and every call pays the full input price"
    ]


def test_same_prompt_on_sonnet_is_long_enough(tmp_path: Path) -> None:
    """The same 2,500-token prompt on a Sonnet-class model (minimum 1,024) warns nothing."""
    folder, harness = _config(tmp_path, "claude-sonnet-5", 10_000)
    assert validate_warnings(folder, harness) == []


def test_prompt_at_the_haiku_minimum_is_not_warned(tmp_path: Path) -> None:
    """A prompt of exactly 4,096 estimated tokens on Haiku 4.5 is cacheable: no warning."""
    folder, harness = _config(tmp_path, "claude-haiku-4-5", 4096 * 4)
    assert validate_warnings(folder, harness) == []


def test_harness_documents_count_toward_the_prefix(tmp_path: Path) -> None:
    """A harness document in context: adds its estimated tokens to the prefix."""
    folder, harness = _config(tmp_path, "claude-sonnet-5", 3000)
    (harness / "long.md").write_text("y" * 2000)
    text = (folder / "short.yaml").read_text() + "context: [harness/long.md]\n"
    (folder / "short.yaml").write_text(text)
    assert validate_warnings(folder, harness) == []


def test_warning_is_not_an_error(tmp_path: Path) -> None:
    """validate (the errors) stays empty for a configuration that only has warnings."""
    folder, harness = _config(tmp_path, "claude-haiku-4-5", 100)
    assert (validate(folder, harness), len(validate_warnings(folder, harness))) == ([], 1)


def test_cli_prints_the_warning_on_stderr_and_exits_0(tmp_path: Path) -> None:
    """`factoryd validate` exits 0, prints ok, and the warning with FILE:LINE:COL on stderr."""
    folder, harness = _config(tmp_path, "claude-haiku-4-5", 100)
    result = runner.invoke(
        app, ["validate", "--automations", str(folder), "--harness", str(harness)]
    )
    first = result.stderr.splitlines()[0]
    assert (result.exit_code, result.stdout, first.split(": ")[0:2]) == (
        0,
        "ok\n",
        [f"{folder / 'short.yaml'}:4:1", "warning"],
    )


def test_absent_optional_document_is_left_out_of_the_estimate(tmp_path: Path) -> None:
    """An optional context entry (``harness/spec.md?``) that is absent counts as nothing."""
    harness = Path(shutil.copytree(ROOT / "harness", tmp_path / "harness"))
    automations = tmp_path / "automations"
    automations.mkdir()
    (automations / "a.yaml").write_text(
        "name: a\non: [{manual: {}}]\nmodel: claude-sonnet-5\n"
        "context: [harness/spec.md?]\nprompt: short\n"
    )
    assert (harness / "spec.md").exists() is False
    [warning] = validate_warnings(automations, harness)
    assert warning.file.endswith("a.yaml")
