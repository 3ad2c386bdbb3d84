"""The pids cgroup of each open run of a root daemon, keyed by the run's workspace.

``open(workspace)`` makes the run's cgroup, ``take(workspace, max_pids)`` lends it to one
command (drained, ``pids.max`` set for that command), ``give_back`` ends the loan and
``close(workspace)`` removes it. A command of a run whose cgroup is already lent (two
commands of one run at once), cannot be emptied, or of no open run gets a cgroup of its
own, as before.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import structlog

from factory.sandbox.cgroup import PidsCgroup

log = structlog.get_logger(__name__)


@dataclass
class _Entry:
    cgroup: PidsCgroup
    lent: bool = False


class RunCgroups:
    """Open runs' cgroups under ``base``; safe to use from many threads."""

    def __init__(self, base: Path) -> None:
        """Make run cgroups under ``base`` (a writable pids cgroup directory)."""
        self.base = base
        self._lock = threading.Lock()
        self._runs: dict[Path, _Entry] = {}

    def open(self, workspace: Path, max_pids: int) -> None:
        """Make the cgroup for the run over ``workspace`` (no-op if it is open).

        Raises OSError if it cannot be made.
        """
        with self._lock:
            if workspace in self._runs:
                return
            self._runs[workspace] = _Entry(PidsCgroup(self.base, max_pids))

    def take(self, workspace: Path, max_pids: int) -> PidsCgroup | None:
        """Lend the run's cgroup, empty and limited to ``max_pids``; None if not available.

        Raises OSError if the limit cannot be set.
        """
        with self._lock:
            entry = self._runs.get(workspace)
            if entry is None or entry.lent:
                return None
            entry.lent = True
        try:
            if not entry.cgroup.drain():
                # A task that will not die (stuck in the kernel): this command gets a
                # cgroup of its own rather than a limit shared with that task.
                log.warning("sandbox_cgroup_not_drained", path=str(entry.cgroup.path))
                self.give_back(workspace)
                return None
            entry.cgroup.set_max(max_pids)
        except OSError:
            self.give_back(workspace)
            raise
        return entry.cgroup

    def give_back(self, workspace: Path) -> None:
        """End the loan of the run's cgroup (its tasks are left to the next drain)."""
        with self._lock:
            entry = self._runs.get(workspace)
            if entry is not None:
                entry.lent = False

    def close(self, workspace: Path) -> None:
        """Kill what is left in the run's cgroup and remove it (no-op if not open)."""
        with self._lock:
            entry = self._runs.pop(workspace, None)
        if entry is not None:
            entry.cgroup.remove()

    def close_all(self) -> None:
        """Close every open run's cgroup."""
        with self._lock:
            workspaces = list(self._runs)
        for workspace in workspaces:
            self.close(workspace)

    def is_open(self, workspace: Path) -> bool:
        """Return whether the run over ``workspace`` has a cgroup."""
        with self._lock:
            return workspace in self._runs
