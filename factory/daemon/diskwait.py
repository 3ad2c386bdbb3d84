"""The data directory's free-space reserve: below it, new runs wait instead of starting.

The reserve is the policy's ``sandbox.data_reserve``, at most ``data_reserve_percent`` of
the disk. Queued runs stay queued (nothing is
failed or skipped); the loop checks again on its next tick, so they start once space returns.
``/healthz`` reports the free space, the reserve and whether runs are waiting.
"""

from __future__ import annotations

import threading

import structlog

from factory.config.loader import FactoryConfig
from factory.daemon.runenv import RunEnv
from factory.workspace.diskcap import DiskState, disk_state

log = structlog.get_logger(__name__)

_lock = threading.Lock()
_waiting: set[str] = set()
"""Data directories currently below their reserve (so the log line is written once)."""


def current(env: RunEnv, config: FactoryConfig) -> DiskState:
    """Return the data directory's free space against the policy's reserve."""
    policy = config.policy.sandbox
    return disk_state(env.data_dir, policy.data_reserve, policy.data_reserve_percent)


def disk_low(env: RunEnv, config: FactoryConfig) -> bool:
    """Return True when free space is below the reserve (logged when it starts and ends)."""
    state = current(env, config)
    key = str(env.data_dir)
    with _lock:
        was = key in _waiting
        if state.waiting and not was:
            _waiting.add(key)
            log.warning(
                "runs_waiting_for_disk",
                free_bytes=state.free_bytes,
                reserve_bytes=state.reserve_bytes,
            )
        elif was and not state.waiting:
            _waiting.discard(key)
            log.info("runs_resumed_disk_free", free_bytes=state.free_bytes)
    return state.waiting


def disk_report(env: RunEnv, config: FactoryConfig) -> dict[str, object]:
    """Return the ``disk`` entry of ``/healthz``."""
    return current(env, config).report()
