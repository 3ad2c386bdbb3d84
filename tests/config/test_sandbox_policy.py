"""Disk settings: ``sandbox: {disk: ...}`` per automation, defaults in the policy's ``sandbox:``."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from factory.config.automation import SandboxConfig
from factory.config.harness import load_harness
from factory.config.sandbox_policy import SandboxPolicy

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_policy_caps_runs_at_2g_and_reserves_1g_or_5_percent() -> None:
    """The shipped policy: a 2 GiB cap per run, a reserve of 1 GiB but at most 5 % of the disk."""
    policy = load_harness(ROOT / "harness").policy.sandbox
    assert (policy.disk, policy.data_reserve, policy.data_reserve_percent) == (2048, 1024, 5.0)


def test_automation_disk_parses_sizes() -> None:
    """An automation's ``disk: 4g`` is 4096 MB."""
    assert SandboxConfig.model_validate({"disk": "4g"}).disk == 4096


def test_automation_without_disk_leaves_it_to_the_policy() -> None:
    """An automation that names no disk cap has none of its own (the policy's applies)."""
    assert SandboxConfig().disk is None


def test_bad_disk_size_is_refused() -> None:
    """A disk size that is not a size is a configuration error naming the field."""
    with pytest.raises(ValidationError, match="disk"):
        SandboxConfig.model_validate({"disk": "lots"})


def test_reserve_percent_over_100_is_refused() -> None:
    """A reserve share above 100 % is refused."""
    with pytest.raises(ValidationError, match="data_reserve_percent"):
        SandboxPolicy(data_reserve_percent=101)
