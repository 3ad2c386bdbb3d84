"""The README's YAML schema example stays valid as the schema changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.config.loader import validate

ROOT = Path(__file__).resolve().parents[1]


def test_readme_schema_example_validates(tmp_path: Path) -> None:
    """The "rest of the schema, by example" block is a valid automation body."""
    text = (ROOT / "README.md").read_text()
    start = text.index("```yaml\n", text.index("The rest of the schema, by example:")) + 8
    block = text[start : text.index("```", start)]
    folder = tmp_path / "automations"
    folder.mkdir()
    (folder / "example.yaml").write_text(f"name: example\n{block}prompt: Hi {{{{ repo.url }}}}.\n")
    assert validate(folder, ROOT / "harness") == []


def _cli_rows() -> dict[str, str]:
    """Return the README CLI table's rows by their command cell (the text in backticks)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## CLI\n") : text.index("\n## ", text.index("## CLI\n") + 1)]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        if line.startswith("| `factoryd "):
            cell = line[3 : line.index("` |")]
            rows[cell] = line
    return rows


def _commands() -> list[tuple[str, list[str]]]:
    """Return every factoryd command path (``sandbox exec`` too) with its long options."""
    import typer

    from factory.cli import app

    found: list[tuple[str, list[str]]] = []

    def walk(group: Any, prefix: str) -> None:
        # typer ships its own click: groups are told apart by their commands, not by class
        for name, command in sorted(group.commands.items()):
            if hasattr(command, "commands"):
                walk(command, f"{prefix}{name} ")
                continue
            options = [
                opt
                for param in command.params
                if param.param_type_name == "option"
                for opt in param.opts
                if opt.startswith("--") and opt != "--help"
            ]
            found.append((f"{prefix}{name}", sorted(options)))

    walk(typer.main.get_command(app), "")
    return found


def test_readme_cli_table_lists_every_command_and_option() -> None:
    """Each command of the CLI has a row in the README's CLI table naming all its options."""
    rows = _cli_rows()
    missing: list[str] = []
    for command, options in _commands():
        mine = [row for cell, row in rows.items() if cell.startswith(f"factoryd {command}")]
        if not mine:
            missing.append(command)
            continue
        missing += [f"{command} {opt}" for opt in options if not any(opt in r for r in mine)]
    assert missing == []
