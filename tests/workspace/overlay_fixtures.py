"""Shared pieces of the overlay workspace tests: the overlay workspaces and tree hashes."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from factory.workspace import Mirror
from factory.workspace.overlay import OverlayWorkspaces

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")

MakeOverlays = Callable[..., OverlayWorkspaces]


@pytest.fixture
def make_overlays(data: Path, mirror: Mirror) -> Iterator[MakeOverlays]:
    """Build ``OverlayWorkspaces`` over the test mirror with the given keyword arguments."""
    made: list[OverlayWorkspaces] = []

    def make(**kwargs: object) -> OverlayWorkspaces:
        wss = OverlayWorkspaces(data, mirror, **kwargs)  # type: ignore[arg-type]
        made.append(wss)
        return wss

    yield make
    for wss in made:  # never leave a mount behind a failed test
        wss.sweep(active_run_ids=set())
        if wss.layers.is_dir():
            for layer in wss.layers.iterdir():
                wss._remove(layer.name.removesuffix(".info"))
        for entry in wss.root.iterdir() if wss.root.is_dir() else []:
            if not entry.name.startswith("."):
                wss._remove(entry.name.removesuffix(".kept"))


def tree_hash(root: Path) -> str:
    """Return a hash of every path, mode, symlink target and file content under ``root``."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted([*dirnames, *filenames]):
            path = Path(dirpath) / name
            st = path.lstat()
            digest.update(f"{path.relative_to(root)}\0{st.st_mode}\0".encode())
            if path.is_symlink():
                digest.update(os.readlink(path).encode())
            elif path.is_file():
                digest.update(path.read_bytes())
    return digest.hexdigest()
