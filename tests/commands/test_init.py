"""factoryd init: a ready, valid config repository from the packaged defaults; --config."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.commands.init import defaults, init_config, write_config
from factory.config.loader import validate
from factory.errors import InitRefused
from factory.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def files_under(folder: Path) -> dict[str, bytes]:
    """Return every file under ``folder`` by its relative path, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def git(directory: Path, *args: str) -> str:
    """Return the stripped stdout of plain ``git args`` in ``directory``."""
    done = subprocess.run(["git", *args], cwd=directory, capture_output=True, check=True)
    return done.stdout.decode().strip()


@pytest.mark.parametrize("folder", ["automations", "harness"])
def test_packaged_defaults_are_the_top_level_folders(folder: str) -> None:
    """The package's defaults/<folder> resolves to the repository's own folder (no copy)."""
    assert Path(str(defaults() / folder)).resolve() == (ROOT / folder).resolve()


def test_packaged_env_example_is_the_top_level_one() -> None:
    """The packaged env.example resolves to the repository's .env.example (no copy)."""
    packaged = Path(str(defaults() / "init" / "env.example")).resolve()
    assert packaged == (ROOT / ".env.example").resolve()


def test_init_writes_every_shipped_automation_byte_for_byte(tmp_path: Path) -> None:
    """The new config's automations are exactly the shipped ones."""
    write_config(tmp_path / "x")
    assert files_under(tmp_path / "x" / "automations") == files_under(ROOT / "automations")


def test_init_writes_the_shipped_harness_plus_spec_and_quality(tmp_path: Path) -> None:
    """The new harness is the shipped one plus the spec.md and quality.md templates."""
    write_config(tmp_path / "x")
    written = files_under(tmp_path / "x" / "harness")
    shipped = files_under(ROOT / "harness")
    assert (sorted(set(written) - set(shipped)), {k: written[k] for k in shipped}) == (
        ["quality.md", "spec.md"],
        shipped,
    )


def test_init_writes_readme_gitignore_and_env_example(tmp_path: Path) -> None:
    """The top of the new config holds README.md, .gitignore and .env.example."""
    write_config(tmp_path / "x")
    top = sorted(p.name for p in (tmp_path / "x").iterdir() if p.is_file())
    assert top == [".env.example", ".gitignore", "README.md"]


def test_init_ignores_env_and_data(tmp_path: Path) -> None:
    """The new config's .gitignore keeps .env and the data dir out of git."""
    write_config(tmp_path / "x")
    lines = (tmp_path / "x" / ".gitignore").read_text().splitlines()
    assert {".env", "data/"} <= set(lines)


def test_initialised_config_validates(tmp_path: Path) -> None:
    """The written automations and harness validate without an issue."""
    write_config(tmp_path / "x")
    assert validate(tmp_path / "x" / "automations", tmp_path / "x" / "harness") == []


def test_init_commits_every_file_in_a_new_repository(tmp_path: Path) -> None:
    """init makes a git repository with one commit holding every file, and a clean tree."""
    written = init_config(tmp_path / "x")
    tracked = git(tmp_path / "x", "ls-files").splitlines()
    expected = sorted(p.relative_to(tmp_path / "x").as_posix() for p in written)
    assert (
        sorted(tracked),
        git(tmp_path / "x", "rev-list", "--count", "HEAD"),
        git(tmp_path / "x", "status", "--porcelain"),
    ) == (expected, "1", "")


def test_init_refuses_a_non_empty_directory_and_leaves_it_alone(tmp_path: Path) -> None:
    """A directory with a file in it is refused, and nothing is written there."""
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(InitRefused):
        init_config(tmp_path / "x")
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["notes.txt"]


def test_init_accepts_an_existing_empty_directory(tmp_path: Path) -> None:
    """An empty directory that already exists is filled like a new one."""
    (tmp_path / "x").mkdir()
    init_config(tmp_path / "x")
    assert (tmp_path / "x" / "harness" / "policy.yaml").is_file()


def test_cli_init_refusal_exits_1(tmp_path: Path) -> None:
    """`factoryd init DIR` on a non-empty DIR exits 1 saying why."""
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["init", str(tmp_path / "x")])
    assert (result.exit_code, "is not empty" in result.output) == (1, True)


def test_cli_init_then_validate_config_succeeds(tmp_path: Path) -> None:
    """`factoryd init x` then `factoryd validate --config x` prints ok and exits 0."""
    runner = CliRunner()
    made = runner.invoke(app, ["init", str(tmp_path / "x")])
    checked = runner.invoke(app, ["validate", "--config", str(tmp_path / "x")])
    assert (made.exit_code, checked.exit_code, checked.stdout) == (0, 0, "ok\n")


def test_validate_config_reports_the_config_dirs_files(tmp_path: Path) -> None:
    """`validate --config DIR` checks DIR's automations, not the working directory's."""
    write_config(tmp_path / "x")
    (tmp_path / "x" / "automations" / "bad.yaml").write_text("name: bad\nbogus: 1\n")
    result = CliRunner().invoke(app, ["validate", "--config", str(tmp_path / "x")])
    bad = str(tmp_path / "x" / "automations" / "bad.yaml")
    assert (result.exit_code, any(line.startswith(bad) for line in result.output.splitlines())) == (
        1,
        True,
    )


def test_config_dir_settings_use_its_folders_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--config DIR's automations and harness win over FACTORY_AUTOMATIONS_DIR and friends."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FACTORY_AUTOMATIONS_DIR", "elsewhere/automations")
    monkeypatch.setenv("FACTORY_HARNESS_DIR", "elsewhere/harness")
    got = Settings.for_config_dir(tmp_path / "x")
    assert (got.automations_dir, got.harness_dir, got.config_root) == (
        tmp_path / "x" / "automations",
        tmp_path / "x" / "harness",
        tmp_path / "x",
    )


def test_config_dir_env_file_wins_over_the_working_directorys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DIR/.env is read for --config DIR, and wins over ./.env."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("GITHUB_REPOSITORY=acme/cwd\nFACTORY_CONCURRENCY=5\n")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / ".env").write_text("GITHUB_REPOSITORY=acme/config\n")
    got = Settings.for_config_dir(tmp_path / "x")
    assert (got.github_repository, got.concurrency) == ("acme/config", 5)
