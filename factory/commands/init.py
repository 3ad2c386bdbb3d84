"""``factoryd init [DIR]``: a ready factory config repository from the defaults in the wheel.

The defaults are package data under ``factory/defaults/``: ``automations/`` and ``harness/``
there are symbolic links to the repository's top-level folders (one copy of every file, so
the shipped config cannot drift from what the wheel installs), and ``init/`` holds what only
a new config directory gets (README, ``.gitignore``, the spec and quality templates; its
``env.example`` links to the top-level ``.env.example``).
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from factory.errors import InitRefused
from factory.workspace.gitutil import run_git

INIT_IDENTITY = {"user.name": "factoryd init", "user.email": "factoryd-init@localhost"}
"""Who the first commit is by: the tool wrote it, whatever the user's git identity."""

EXTRAS: dict[str, str] = {
    "README.md": "README.md",
    "gitignore": ".gitignore",
    "env.example": ".env.example",
    "spec.md": "harness/spec.md",
    "quality.md": "harness/quality.md",
}
"""Files of ``defaults/init/`` and where they go in the new config directory."""

SKIPPED = frozenset({"__pycache__", ".DS_Store"})


def defaults() -> Traversable:
    """Return the packaged defaults folder (``factory/defaults``)."""
    return files("factory") / "defaults"


def _copy_tree(source: Traversable, target: Path, written: list[Path]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir(), key=lambda e: e.name):
        if entry.name in SKIPPED:
            continue
        if entry.is_dir():
            _copy_tree(entry, target / entry.name, written)
        else:
            (target / entry.name).write_bytes(entry.read_bytes())
            written.append(target / entry.name)


def _check_target(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise InitRefused(str(directory), "exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()):
        raise InitRefused(str(directory), "is not empty; give a new or empty directory")


def write_config(directory: Path) -> list[Path]:
    """Write the default config into ``directory`` (created if missing); return the files.

    Raises InitRefused if ``directory`` exists and is not an empty directory.
    """
    _check_target(directory)
    root = defaults()
    written: list[Path] = []
    _copy_tree(root / "automations", directory / "automations", written)
    _copy_tree(root / "harness", directory / "harness", written)
    for name, destination in EXTRAS.items():
        path = directory / destination
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((root / "init" / name).read_bytes())
        written.append(path)
    return sorted(written)


def init_config(directory: Path) -> list[Path]:
    """Write the default config into ``directory`` and commit it as a new git repository.

    Returns the files written. Raises InitRefused for a non-empty ``directory``, GitError
    if git cannot make the repository or its first commit.
    """
    written = write_config(directory)
    run_git(["init", "--quiet", "-b", "main"], cwd=directory)
    run_git(["add", "--all"], cwd=directory)
    run_git(
        ["commit", "--quiet", "-m", "factoryd init: the default factory config"],
        cwd=directory,
        config=INIT_IDENTITY,
    )
    return written
