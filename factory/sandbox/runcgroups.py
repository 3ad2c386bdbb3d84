"""The pids cgroup of each open run of a root daemon, keyed by the run's workspace.

``open(workspace)`` makes the run's cgroup (no limit of its own), ``leaf(workspace,
max_pids)`` makes one command's leaf in it (None when no run is open over that workspace)
and ``close(workspace)`` kills whatever is left of the run and removes its cgroup. Why
leaves and not one reused cgroup: see ``cgroup.py``.
"""

from __future__ import annotations

import threading
from pathlib import Path

from factory.sandbox.cgroup import PidsCgroup


class RunCgroups:
    """Open runs' cgroups under ``base``; safe to use from many threads."""

    def __init__(self, base: Path) -> None:
        """Make run cgroups under ``base`` (a writable pids cgroup directory)."""
        self.base = base
        self._lock = threading.Lock()
        self._runs: dict[Path, PidsCgroup] = {}

    def open(self, workspace: Path) -> None:
        """Make the cgroup of the run over ``workspace`` (no-op if it is open).

        Raises OSError if it cannot be made.
        """
        with self._lock:
            if workspace not in self._runs:
                self._runs[workspace] = PidsCgroup(self.base, None, leaf=False)

    def leaf(self, workspace: Path, max_pids: int) -> PidsCgroup | None:
        """Return a new leaf of the run's cgroup limited to ``max_pids``; None if no run.

        Raises OSError if it cannot be made.
        """
        with self._lock:
            run = self._runs.get(workspace)
        return None if run is None else PidsCgroup(run.path, max_pids)

    def close(self, workspace: Path) -> None:
        """Kill what is left of the run over ``workspace``, remove its cgroup (no-op if none)."""
        with self._lock:
            run = self._runs.pop(workspace, None)
        if run is not None:
            run.remove()

    def path(self, workspace: Path) -> Path | None:
        """Return the cgroup directory of the run over ``workspace``, if it is open."""
        with self._lock:
            run = self._runs.get(workspace)
        return None if run is None else run.path
