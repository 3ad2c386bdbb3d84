"""The log redactor: secrets are scrubbed from values and keys, overlapping ones without a trace."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import structlog

from factory.logs import REDACTED, Redactor, configure_logging, redactor
from factory.settings import Settings

SECRET = "ghp_0123456789abcdefSECRET"
"""A secret value registered in every redactor below."""

R = REDACTED


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({SECRET: 1}, {R: 1}),
        ({f"token={SECRET}": "v"}, {f"token={R}": "v"}),
        ({"outer": {SECRET: "v"}}, {"outer": {R: "v"}}),
        ({"outer": {"inner": {f"x{SECRET}x": 2}}}, {"outer": {"inner": {f"x{R}x": 2}}}),
        ({"items": [{SECRET: "v"}]}, {"items": [{R: "v"}]}),
        ({"items": ({SECRET: "v"},)}, {"items": [{R: "v"}]}),
        ({"items": [[{"a": {SECRET: None}}]]}, {"items": [[{"a": {R: None}}]]}),
        ({"headers": {("auth", SECRET): "v"}}, {"headers": {f"('auth', '{R}')": "v"}}),
        ({"counts": {7: SECRET}}, {"counts": {7: R}}),
    ],
    ids=[
        "top-level-key",
        "top-level-key-containing",
        "nested-dict-key",
        "deeply-nested-dict-key",
        "dict-key-in-list",
        "dict-key-in-tuple",
        "dict-key-in-nested-lists",
        "tuple-key",
        "int-key-kept",
    ],
)
def test_secrets_in_keys_are_redacted(event: dict[Any, Any], expected: dict[Any, Any]) -> None:
    """A secret used as (or inside) a dict key, at any depth, is replaced like a value."""
    assert Redactor([SECRET])(None, "info", event) == expected


@pytest.mark.parametrize(
    ("secrets", "text", "expected"),
    [
        (["abcd1234", "abcd1234efgh"], "x abcd1234efgh y", f"x {R} y"),
        (["abcd1234efgh", "abcd1234"], "x abcd1234efgh y", f"x {R} y"),
        (["1234efgh", "abcd1234efgh"], "x abcd1234efgh y", f"x {R} y"),
        (["d123", "abcd1234efgh"], "abcd1234efgh d123", f"{R} {R}"),
        (["abcdEFGH", "EFGHijkl"], "x abcdEFGHijkl y", f"x {R} y"),
        (["EFGHijkl", "abcdEFGH"], "x abcdEFGHijkl y", f"x {R} y"),
        (["abcdEFGH", "GHijklmnop"], "abcdEFGHijklmnop", R),
        (["aaaa", "aaab"], "aaaaab", R),
        (["abcdEFGH", "EFGHijkl", "klmnOPQR"], "abcdEFGHijklmnOPQR!", f"{R}!"),
        (["secretA1", "secretB2"], "secretA1secretB2", f"{R}{R}"),
    ],
    ids=[
        "prefix-registered-first",
        "prefix-registered-last",
        "suffix-inside-longer",
        "infix-inside-longer-and-alone",
        "overlap-registered-left-first",
        "overlap-registered-right-first",
        "overlap-shorter-left",
        "overlap-self-repeating",
        "chain-of-three-overlaps",
        "adjacent-secrets",
    ],
)
def test_overlapping_secrets_leave_no_fragment(
    secrets: list[str], text: str, expected: str
) -> None:
    """When secrets contain or overlap each other, every character of each is redacted."""
    assert Redactor(secrets).scrub(text) == expected


def test_redacted_marker_cannot_complete_a_secret() -> None:
    """Text produced by one replacement is never matched again as part of another secret."""
    assert Redactor(["abcd1234", "d]xyz"]).scrub("abcd1234xyz") == f"{R}xyz"


def test_logged_line_has_secret_key_redacted() -> None:
    """A structlog line whose extra dict is keyed by a secret prints the key redacted."""
    out = io.StringIO()
    configure_logging(Settings(_env_file=None, log_format="json"), stream=out)
    redactor.add([SECRET])
    structlog.get_logger("t").info("tokens_seen", by_token={SECRET: {"uses": 3}})
    assert json.loads(out.getvalue())["by_token"] == {R: {"uses": 3}}
