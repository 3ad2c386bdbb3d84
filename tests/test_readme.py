"""The README's YAML schema example stays valid as the schema changes."""

from __future__ import annotations

from pathlib import Path

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
