"""Tests that kill mutants `make mutants` found alive in the markers module."""

from __future__ import annotations

import pytest

from factory.forge.markers import render_marker, strip_markers


def test_bad_run_id_is_named_as_a_run_id() -> None:
    """A run id that cannot go in a marker is named, quoted, as the run id."""
    with pytest.raises(ValueError) as caught:
        render_marker("a b", "key")
    assert str(caught.value) == "run id 'a b' cannot be put in a marker"


def test_bad_key_is_named_as_an_idempotency_key() -> None:
    """A key that cannot go in a marker is named, quoted, as the idempotency key."""
    with pytest.raises(ValueError) as caught:
        render_marker("run", "a>b")
    assert str(caught.value) == "idempotency key 'a>b' cannot be put in a marker"


def test_one_pass_goes_on_past_openers_inside_a_removed_comment() -> None:
    """Ten comments each holding a second opener are all removed, without escaping any."""
    assert strip_markers("<!-- a <!-- factoryd --> x " * 10) == " x " * 10


# Equivalent mutants (no test can kill them):
# - x__strip_once__mutmut_7, _8: `close = -1` -> `+1` / `-2`. `close` is only compared with
#   `start`, which is at least 4 (an opener's index plus len("<!--")), so any start value
#   below 4 makes the first comment search its close the same way.
# - x__strip_once__mutmut_15: `close < start` -> `close <= start`. `close == start` means
#   the comment's "-->" starts right at ``start``; searching again from ``start`` finds that
#   same "-->", so `close` does not change.
