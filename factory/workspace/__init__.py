"""Workspaces: the local mirror, per-run checkouts made from it, and patch export.

``Mirror`` keeps a bare copy of the target repository fetched before each run;
``Workspaces.prepare`` gives each run its own self-contained checkout (default branch,
a branch, or a pull request head); ``export_patch`` takes the agent's change out as
bytes, computed inside the sandbox; ``Workspaces.release``/``sweep`` clean up.
"""

from __future__ import annotations

from factory.workspace.checkout import Workspace, Workspaces
from factory.workspace.mirror import FETCH_REFSPECS, Mirror, pull_ref, ref_for_mode
from factory.workspace.patch import export_patch

__all__ = [
    "FETCH_REFSPECS",
    "Mirror",
    "Workspace",
    "Workspaces",
    "export_patch",
    "pull_ref",
    "ref_for_mode",
]
