"""The schedule trigger's ``when_empty`` option."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from factory.config.triggers import ScheduleTrigger


def test_when_empty_run_needs_a_select() -> None:
    """``when_empty: run`` without ``select`` is a configuration error."""
    with pytest.raises(ValidationError, match="needs a 'select'"):
        ScheduleTrigger.model_validate({"every": "30m", "when_empty": "run"})


def test_when_empty_defaults_to_skip() -> None:
    """A schedule with a select does nothing on an empty select unless it says so."""
    assert ScheduleTrigger.model_validate({"every": "30m", "select": {}}).when_empty == "skip"
