"""The ``sandbox:`` section of ``harness/policy.yaml``: disk defaults shared by every run.

``disk`` is a run's disk cap when its automation names none (``sandbox: {disk: 2g}`` in the
automation overrides it): the size of the filesystem its workspace's writable layer lives on
(``factory.workspace.diskcap``). ``data_reserve`` (at most ``data_reserve_percent`` of the
disk) is the free space the data directory keeps: below it, new runs wait instead of
starting (``/healthz`` and the viewer say so).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from factory.config.automation import parse_memory_mb


class SandboxPolicy(BaseModel):
    """Disk defaults of every run."""

    model_config = ConfigDict(extra="forbid")

    disk: Annotated[int, BeforeValidator(parse_memory_mb)] = 2048
    """A run's disk cap in MB ("2g", "512m" or MB) unless its automation sets one."""
    data_reserve: Annotated[int, BeforeValidator(parse_memory_mb)] = 1024
    """Free space the data directory keeps, in MB, at most ``data_reserve_percent`` of its
    disk (a small disk keeps the smaller share); below it new runs wait."""
    data_reserve_percent: float = Field(default=5.0, ge=0, le=100)
    """The reserve's ceiling as a share of the data directory's disk."""
