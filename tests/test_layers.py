"""The import contract: packages import only the rooms below them (see AGENTS.md, Layout)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BASE = frozenset(
    {"", "settings", "logs", "errors", "ids", "events", "interfaces", "crashpoints", "cacherules"}
)
"""Modules at ``factory/`` root that every room may import ("" is ``factory/__init__``)."""

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"__main__"}),
    frozenset({"cli"}),
    frozenset({"commands"}),
    frozenset({"daemon"}),
    frozenset({"sources"}),
    frozenset({"forge"}),
    frozenset({"workspace", "agent", "slack", "sentry"}),
    frozenset({"sandbox", "config", "store"}),
)
"""Rooms from the top down: a room imports rooms in lower layers, never its siblings."""

SIDE_ROOMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "web": (frozenset({"store", "config"}), frozenset({"cli", "commands", "daemon"})),
    "testing": (frozenset(), frozenset({"cli", "commands"})),
}
"""Rooms outside the stack: (what they may import, who may import them)."""


def allowed_imports(room: str) -> frozenset[str]:
    """Return the rooms ``room`` may import besides itself and the base modules.

    Raises KeyError for a room the contract does not know (a new package must be placed).
    """
    if room in SIDE_ROOMS:
        return SIDE_ROOMS[room][0]
    for depth, layer in enumerate(LAYERS):
        if room in layer:
            below = frozenset().union(*LAYERS[depth + 1 :])
            side = frozenset(name for name, (_, users) in SIDE_ROOMS.items() if room in users)
            return below | side
    raise KeyError(room)


def _room_of(module: str) -> str:
    """Return the room of a dotted module path under ``factory`` ("" for factory itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imported(path: Path, package_dir: Path, module: str) -> Iterator[tuple[int, str]]:
    """Yield (line, dotted module) for every ``factory`` import in the file, lazy ones too."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*kept, target] if target else kept)
            if target != "factory":
                yield node.lineno, target
                continue
            # ``from factory import x``: x is a room, a base module, or a plain name.
            for alias in node.names:
                name = alias.name
                is_module = (package_dir / name).is_dir() or (package_dir / f"{name}.py").exists()
                yield node.lineno, f"factory.{name}" if is_module else "factory"


def violations(package_dir: Path) -> tuple[int, list[str]]:
    """Return (modules checked, wrong-way imports as ``FILE:LINE: room -> room`` lines)."""
    found: list[str] = []
    checked = 0
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir.parent)
        where_parts = rel.with_suffix("").parts
        module = ".".join(where_parts[:-1] if rel.name == "__init__.py" else where_parts)
        checked += 1
        room = _room_of(module)
        is_base = path.parent == package_dir and (path.stem in BASE or path.stem == "__init__")
        for line, target in _imported(path, package_dir, module):
            if target != "factory" and not target.startswith("factory."):
                continue
            other = _room_of(target)
            where = f"{rel}:{line}"
            if is_base:
                if other not in BASE:
                    found.append(f"{where}: base module {module} -> {target}")
            elif other != room and other not in BASE and other not in allowed_imports(room):
                found.append(f"{where}: {room} -> {other} ({target})")
    return checked, found


def test_factory_imports_only_downward() -> None:
    """Every import in factory/ follows the layers; the check saw the whole package."""
    checked, found = violations(ROOT / "factory")
    assert checked > 100
    assert found == []


def test_factory_root_holds_only_base_modules() -> None:
    """factory/ root has the base modules, cli and __main__, and packages — nothing else."""
    loose = (
        {p.stem for p in (ROOT / "factory").glob("*.py")} - BASE - {"__init__", "cli", "__main__"}
    )
    assert loose == set()


def test_every_package_is_placed_in_the_contract() -> None:
    """A new package under factory/ must be given a place before it can pass the check."""
    rooms = {p.parent.name for p in (ROOT / "factory").glob("*/__init__.py")}
    placed = set().union(*LAYERS) | set(SIDE_ROOMS)
    assert rooms - placed == set()


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / "factory" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "factory"


GOOD = {
    "__init__.py": "",
    "errors.py": "",
    "settings.py": "",
    "logs.py": "from factory.settings import Settings\n",
    "forge/__init__.py": "",
    "forge/a.py": "from factory.store.x import y\nfrom factory.errors import E\n",
    "store/__init__.py": "",
    "store/x.py": "from . import y\n",
    "daemon/__init__.py": "",
    "daemon/run.py": "from factory.forge.a import b\nfrom factory.web import app\n",
    "web/__init__.py": "from factory.store.x import y\n",
}


@pytest.mark.parametrize(
    ("rel", "text", "expected"),
    [
        ("forge/bad.py", "from factory.daemon.run import go\n", "forge -> daemon"),
        ("forge/bad.py", "import factory.sources.poller\n", "forge -> sources"),
        ("forge/bad.py", "def f():\n    from factory.daemon import run\n", "forge -> daemon"),
        ("forge/bad.py", "from ..daemon.run import go\n", "forge -> daemon"),
        ("forge/bad.py", "from factory import daemon\n", "forge -> daemon"),
        ("store/bad.py", "from factory.config.loader import load\n", "store -> config"),
        ("web/bad.py", "from factory.forge.a import b\n", "web -> forge"),
        ("sources/bad.py", "from factory.testing.fake import F\n", "sources -> testing"),
        ("errors.py", "from factory.store import RunStore\n", "base module factory.errors"),
    ],
    ids=[
        "upward",
        "plain-import",
        "lazy",
        "relative",
        "from-factory",
        "sibling",
        "web",
        "testing",
        "base",
    ],
)
def test_wrong_way_import_in_a_fixture_tree_is_reported(
    tmp_path: Path, rel: str, text: str, expected: str
) -> None:
    """A tree with one wrong-way import yields exactly one violation naming it."""
    files = {**GOOD, rel: text}
    if "/" in rel:
        files.setdefault(rel.split("/")[0] + "/__init__.py", "")
    _, found = violations(_tree(tmp_path, files))
    assert [line.split(": ", 1)[1].startswith(expected) for line in found] == [True]


def test_fixture_tree_without_wrong_way_imports_passes(tmp_path: Path) -> None:
    """The same fixture tree with only downward imports yields no violation."""
    checked, found = violations(_tree(tmp_path, GOOD))
    assert (checked, found) == (len(GOOD), [])
