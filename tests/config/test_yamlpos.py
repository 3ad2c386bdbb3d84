"""YAML syntax errors name where the broken construct began as well as where parsing stopped."""

from __future__ import annotations

import pytest

from factory.config.yamlpos import parse_yaml
from factory.errors import ConfigIssue


def test_unterminated_quote_reports_the_line_it_opened_on() -> None:
    """A quote opened on line 1 and detected at the end of line 3 is reported at 1:7 and 4:1."""
    _, issues = parse_yaml('name: "abc\non: x\nprompt: y\n', "a.yaml")
    assert [str(i) for i in issues] == [
        "a.yaml:1:7: YAML syntax error: an unterminated quoted scalar starts here;"
        " the parser stopped at 4:1: found unexpected end of stream",
        "a.yaml:4:1: YAML syntax error: found unexpected end of stream;"
        " an unterminated quoted scalar starts at 1:7",
    ]


@pytest.mark.parametrize(
    ("text", "start", "stop"),
    [
        ("name: 'abc\non: x\n", (1, 7), (3, 1)),
        ('a: 1\nb: "x\\\n  y\n', (2, 4), (4, 1)),
        ("tools: [a, b\nprompt: x\n", (1, 8), (2, 7)),
        ("tools: [a,\n  b\n", (1, 8), (3, 1)),
        ("limits: {max_turns: 3\nprompt: x\n", (1, 9), (2, 7)),
        ("on:\n  - a: 1\n   - b: 2\n", (2, 3), (3, 4)),
        ("a:\n  b:\n    c: 1\n   d: 2\n", (2, 3), (4, 4)),
        ("on:\n  - a: 1\n  bare\nprompt: x\n", (3, 3), (4, 1)),
        ("a: 1\n---\na: 2\n", (1, 1), (2, 1)),
        ("a: &x 1\nb:\n  <<: *x\n", (3, 3), (1, 4)),
    ],
    ids=[
        "single-quote",
        "double-quote-escaped-newline",
        "flow-sequence",
        "flow-sequence-at-eof",
        "flow-mapping",
        "block-sequence-indent",
        "nested-block-mapping-indent",
        "key-without-colon",
        "second-document",
        "merge-of-a-scalar",
    ],
)
def test_error_with_a_context_names_both_positions(
    text: str, start: tuple[int, int], stop: tuple[int, int]
) -> None:
    """An error ruamel marks twice gives an issue at each mark, each naming the other."""
    _, issues = parse_yaml(text, "a.yaml")
    named = [
        f"{stop[0]}:{stop[1]}" in issues[0].message,
        f"{start[0]}:{start[1]}" in issues[1].message,
    ]
    assert ([(i.line, i.col) for i in issues], named) == ([start, stop], [True, True])


@pytest.mark.parametrize(
    ("text", "position"),
    [("prompt: a: b\n", (1, 10)), ("a: *nope\n", (1, 4)), ("a:\n\tb: 1\n", (2, 1))],
    ids=["colon-in-plain-scalar", "undefined-alias", "tab"],
)
def test_error_without_a_context_gives_one_issue(text: str, position: tuple[int, int]) -> None:
    """An error ruamel marks only where it stopped gives exactly one issue there."""
    _, issues = parse_yaml(text, "a.yaml")
    assert [(i.line, i.col) for i in issues] == [position]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nb: !!int three\n", "cannot read 'three' as !!int"),
        ("a: !!float x\n", "cannot read 'x' as !!float"),
        ("a: [1, !!bool maybe]\n", "cannot read 'maybe' as !!bool"),
    ],
    ids=["int", "float", "bool-in-sequence"],
)
def test_unconstructible_explicit_tag_is_an_issue(text: str, message: str) -> None:
    """A value its explicit tag cannot read is an issue at that value, not a crash."""
    _, issues = parse_yaml(text, "a.yaml")
    line = text.count("\n", 0, text.index("!!")) + 1
    col = text.index("!!") - text.rfind("\n", 0, text.index("!!"))
    assert issues == [ConfigIssue("a.yaml", line, col, message)]
