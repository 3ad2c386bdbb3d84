"""Shared test setup: the network is closed except loopback (pytest-socket, see pyproject)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def data_dir() -> Path:
    """The tests' own data folder (``tests/data``)."""
    return DATA
