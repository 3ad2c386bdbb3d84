"""Sanitizing agent text: markers stripped, mentions neutralized, secrets redacted, size capped."""

from __future__ import annotations

import pytest

from factory.forge.sanitize import (
    BODY_CAP,
    cap_text,
    neutralize_mentions,
    redact_secrets,
    sanitize_body,
    sanitize_title,
)
from factory.logs import REDACTED, redactor

ZWSP = "\u200b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ping @alice please", f"ping @{ZWSP}alice please"),
        ("cc @acme/security", f"cc @{ZWSP}acme/security"),
        ("@bob at start", f"@{ZWSP}bob at start"),
        ("(@carol-d)", f"(@{ZWSP}carol-d)"),
    ],
    ids=["user", "team", "start", "parenthesized"],
)
def test_mentions_are_neutralized(text: str, expected: str) -> None:
    """@user and @org/team get a zero-width space after the @ so nobody is pinged."""
    assert neutralize_mentions(text) == expected


@pytest.mark.parametrize(
    "text", ["mail me at dev@example.com", "see https://x.org/@user", "already @\u200bx"]
)
def test_non_mentions_are_left_alone(text: str) -> None:
    """E-mail addresses, URLs and neutralized mentions are not changed."""
    assert neutralize_mentions(text) == text


@pytest.mark.parametrize(
    "token",
    [
        "ghp_" + "a1B2" * 9,
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "gho_" + "Z9" * 18,
        "ghs_" + "x" * 36,
        "xoxb-123456789012-abcdefABCDEF",
        "xoxp-123456789012-abcdefABCDEF",
        "sk-ant-api03-abcdefghijklmnop_QRS",
        "AKIAIOSFODNN7EXAMPLE",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
    ],
    ids=["ghp", "github_pat", "gho", "ghs", "xoxb", "xoxp", "sk-ant", "akia", "pem"],
)
def test_token_shaped_strings_are_redacted(token: str) -> None:
    """Credential-shaped strings are redacted even when their value is unknown."""
    assert redact_secrets(f"leak: {token} end") == f"leak: {REDACTED} end"


def test_private_key_without_end_line_is_redacted_to_the_end() -> None:
    """A private key cut before its END line is redacted up to the end of the text."""
    text = "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\nmore"
    assert redact_secrets(text) == f"key:\n{REDACTED}"


def test_run_canary_is_redacted() -> None:
    """A value passed as the run's secret (a canary) is redacted."""
    assert redact_secrets("x canary-7f3a9 y", ["canary-7f3a9"]) == f"x {REDACTED} y"


def test_process_wide_secret_is_redacted() -> None:
    """A value registered with the process-wide redactor (a settings secret) is redacted."""
    redactor.add(["settings-secret-value-42"])
    assert redact_secrets("token=settings-secret-value-42") == f"token={REDACTED}"


def test_short_values_are_not_treated_as_secrets() -> None:
    """Values under 4 characters would redact ordinary words, so they are ignored."""
    assert redact_secrets("a cat", ["cat"]) == "a cat"


def test_long_body_is_capped_with_a_note() -> None:
    """A body over the cap is cut to the cap and says how much was cut."""
    capped = cap_text("x" * (BODY_CAP + 500))
    assert (len(capped), capped.endswith("500 characters cut …]")) == (BODY_CAP, True)


def test_short_body_is_not_capped() -> None:
    """A body under the cap is kept whole."""
    assert cap_text("short") == "short"


def test_sanitize_body_strips_forged_markers() -> None:
    """A marker written by the agent is removed from the body."""
    forged = "<!-- factoryd:v1 run=R key=K -->"
    assert sanitize_body(f"done {forged}") == "done "


def test_sanitize_body_does_everything_in_one_pass() -> None:
    """Markers, mentions and secrets are all handled by sanitize_body."""
    text = "<!-- factoryd --> @alice ghp_" + "q" * 36
    assert sanitize_body(text) == f" @{ZWSP}alice {REDACTED}"


def test_sanitize_title_is_one_line_and_capped() -> None:
    """Titles lose their newlines and are capped to GitHub's 256 characters."""
    title = sanitize_title("line one\nline two " + "y" * 400)
    assert (title.startswith("line one line two"), len(title)) == (True, 256)
