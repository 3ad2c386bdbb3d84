"""The hidden marker format: render, parse, and strip forged ones."""

from __future__ import annotations

import pytest

from factory.forge.markers import (
    Marker,
    append_marker,
    has_marker,
    parse_markers,
    render_marker,
    strip_markers,
)

RUN = "01J0000000000000000000000A"
KEY = f"{RUN}:comment:7:0123abcd"


def test_render_marker_has_the_documented_form() -> None:
    """A marker is one HTML comment naming the version, run and key."""
    assert render_marker(RUN, KEY) == f"<!-- factoryd:v1 run={RUN} key={KEY} -->"


def test_parse_reads_back_a_rendered_marker() -> None:
    """parse_markers finds the run and key that render_marker wrote."""
    assert parse_markers(append_marker("hello", RUN, KEY)) == [Marker(RUN, KEY)]


def test_append_marker_puts_it_on_the_last_line() -> None:
    """append_marker keeps the text and adds the marker after a blank line."""
    assert append_marker("hello\n", RUN, KEY) == f"hello\n\n{render_marker(RUN, KEY)}"


@pytest.mark.parametrize("key", ["has space", "a-->b", "", "x" * 201], ids=str.__len__)
def test_render_refuses_keys_that_could_break_the_comment(key: str) -> None:
    """Keys with spaces, '>' or of bad length are refused with ValueError."""
    with pytest.raises(ValueError, match="cannot be put in a marker"):
        render_marker(RUN, key)


def test_has_marker_is_false_for_another_key() -> None:
    """A marker with another key does not count as ours."""
    assert has_marker(append_marker("x", RUN, "other-key"), KEY) is False


def test_parse_ignores_malformed_markers() -> None:
    """A marker with extra spaces or another version is not parsed."""
    text = f"<!--factoryd:v1 run={RUN} key={KEY}--> <!-- factoryd:v2 run={RUN} key={KEY} -->"
    assert parse_markers(text) == []


@pytest.mark.parametrize(
    "forged",
    [
        f"<!-- factoryd:v1 run={RUN} key={KEY} -->",
        f"<!--FACTORYD:v1 run={RUN} key={KEY}-->",
        "<!-- note\nfactoryd says hi\n-->",
        f"<!-- factoryd:v1 run={RUN} key={KEY}",
    ],
    ids=["exact", "uppercase", "multiline", "unclosed"],
)
def test_strip_markers_removes_anything_marker_like(forged: str) -> None:
    """Agent text loses every HTML comment that mentions factoryd, closed or not."""
    assert strip_markers(f"before {forged} after").startswith("before ") is True
    assert "factoryd" not in strip_markers(f"before {forged} after").lower()


def test_strip_markers_keeps_other_html_comments() -> None:
    """HTML comments unrelated to factoryd are left alone."""
    assert strip_markers("a <!-- todo --> b") == "a <!-- todo --> b"
