"""Sanitizing agent text: markers stripped, mentions neutralized, secrets redacted, size capped."""

from __future__ import annotations

import pytest

from factory.forge.patches import clean_message
from factory.forge.sanitize import (
    BODY_CAP,
    TITLE_CAP,
    cap_text,
    neutralize_mentions,
    redact_secrets,
    sanitize_body,
    sanitize_title,
    strip_invisible,
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


# -- secrets next to what the other steps touch ------------------------------------------

SECRET = "Hunter2secret"
HALF = len(SECRET) // 2
AROUND = {
    "at": f"@{SECRET}",
    "at-twice": f"@@{SECRET}",
    "at-team": f"@{SECRET}/team",
    "at-neutralized": f"@{ZWSP}{SECRET}",
    "hash": f"#{SECRET}",
    "backticks": f"`{SECRET}`",
    "backtick-at": f"`@{SECRET}`",
    "newlines": f"\n{SECRET}\n",
    "marker-before": f"<!-- factoryd -->{SECRET}",
    "marker-after": f"{SECRET}<!-- factoryd -->",
    "marker-inside": f"{SECRET[:HALF]}<!-- factoryd -->{SECRET[HALF:]}",
    "nested-marker-inside": f"{SECRET[:HALF]}<!-<!-- factoryd -->- factoryd -->{SECRET[HALF:]}",
    "unclosed-marker-after": f"{SECRET}<!-- factoryd",
    "zwsp-inside": f"{SECRET[:HALF]}\u200b{SECRET[HALF:]}",
    "zwj-inside": f"{SECRET[:HALF]}\u200d{SECRET[HALF:]}",
    "word-joiner-inside": f"{SECRET[:HALF]}\u2060{SECRET[HALF:]}",
    "bom-inside": f"{SECRET[:HALF]}\ufeff{SECRET[HALF:]}",
    "soft-hyphen-inside": f"{SECRET[:HALF]}\u00ad{SECRET[HALF:]}",
    "bidi-around": f"\u202e{SECRET}\u202c",
    "bidi-inside": f"{SECRET[:HALF]}\u2066\u2069{SECRET[HALF:]}",
    "tag-inside": f"{SECRET[:HALF]}\U000e0041{SECRET[HALF:]}",
    "selector-inside": f"{SECRET[:HALF]}\ufe0f{SECRET[HALF:]}",
    "control-inside": f"{SECRET[:HALF]}\x00\x1b{SECRET[HALF:]}",
    "private-use-inside": f"{SECRET[:HALF]}\ue000{SECRET[HALF:]}",
    "at-and-zwsp-inside": f"@{SECRET[:HALF]}\u200b{SECRET[HALF:]}",
    "every-wrapper": f"`@\u202e{SECRET[:HALF]}<!-- factoryd -->\u200b{SECRET[HALF:]}`#",
    "glued-word": f"x{SECRET}y",
}


def _leaks(text: str) -> tuple[bool, bool, bool]:
    """Return (secret in text, secret in text once invisible, a redaction mark in text)."""
    return SECRET in text, SECRET in strip_invisible(text), REDACTED in text


@pytest.mark.parametrize("text", AROUND.values(), ids=AROUND.keys())
def test_run_secret_is_redacted_in_bodies_whatever_surrounds_it(text: str) -> None:
    """A run secret is redacted in a body next to or split by anything another step removes."""
    assert _leaks(sanitize_body(text, [SECRET])) == (False, False, True)


@pytest.mark.parametrize("text", AROUND.values(), ids=AROUND.keys())
def test_run_secret_is_redacted_in_titles_whatever_surrounds_it(text: str) -> None:
    """A run secret is redacted in a title next to or split by anything another step removes."""
    assert _leaks(sanitize_title(text, [SECRET])) == (False, False, True)


@pytest.mark.parametrize("text", AROUND.values(), ids=AROUND.keys())
def test_configured_secret_is_redacted_whatever_surrounds_it(text: str) -> None:
    """A process-wide secret is redacted in a body next to or split by anything removed."""
    redactor.add([SECRET])
    assert _leaks(sanitize_body(text)) == (False, False, True)


def test_secret_after_an_at_sign_is_redacted_not_neutralized() -> None:
    """'@' + a secret comes out as '@[redacted]': redaction runs before mentions are broken."""
    assert sanitize_body(f"@{SECRET}", [SECRET]) == f"@{REDACTED}"


def test_secret_split_by_a_forged_marker_is_redacted_whole() -> None:
    """A secret split by a marker-like comment is joined, then redacted as one."""
    assert sanitize_body(AROUND["marker-inside"], [SECRET]) == REDACTED


def test_secret_split_by_a_zero_width_space_is_redacted_whole() -> None:
    """A secret split by a zero-width space is joined, then redacted as one."""
    assert sanitize_body(AROUND["zwsp-inside"], [SECRET]) == REDACTED


def test_secret_split_across_lines_of_a_title_is_redacted() -> None:
    """A secret with a space, split over two lines of a title, is redacted once joined."""
    assert sanitize_title("the hunter\ntwo secret", ["hunter two secret"]) == f"the {REDACTED}"


def test_token_shape_split_by_a_zero_width_space_is_redacted() -> None:
    """A credential-shaped string split by a hidden code point is still redacted."""
    token = "ghp_" + "a1B2" * 9
    assert sanitize_body(f"{token[:6]}\u2060{token[6:]}") == REDACTED


def test_mention_next_to_a_redacted_secret_is_still_neutralized() -> None:
    """Redacting first does not stop the mention after it being neutralized."""
    assert sanitize_body(f"{SECRET} @alice", [SECRET]) == f"{REDACTED} @{ZWSP}alice"


# -- steps and limits, exactly ----------------------------------------------------------


def test_title_cap_is_githubs_limit() -> None:
    """The title cap is 256 characters."""
    assert TITLE_CAP == 256


def test_body_at_the_cap_is_kept_whole() -> None:
    """A body of exactly the cap is not cut."""
    assert cap_text("x" * 10, 10) == "x" * 10


def test_body_one_over_the_cap_is_cut_with_a_note() -> None:
    """One character over the cap is cut to the cap, ending with the note."""
    assert cap_text("x" * 61, 60) == "x" * 13 + "\n\n[… truncated by factoryd: 1 characters cut …]"


def test_cap_smaller_than_the_note_keeps_a_prefix_of_the_note() -> None:
    """A cap smaller than the note yields the note's first ``limit`` characters only."""
    assert cap_text("x" * 50, 5) == "\n\n[… "


def test_four_character_secret_is_redacted() -> None:
    """A value of exactly 4 characters counts as a secret."""
    assert redact_secrets("a wxyz b", ["wxyz"]) == f"a {REDACTED} b"


def test_longer_secret_is_redacted_before_its_prefix() -> None:
    """When one secret contains another, the longer one is replaced whole."""
    assert redact_secrets("abcdefgh", ["abcd", "abcdefgh"]) == REDACTED


def test_title_keeps_words_separated_by_single_spaces() -> None:
    """Runs of whitespace in a title become one space and the ends are trimmed."""
    assert sanitize_title("  a \t b\n\nc  ") == "a b c"


def test_title_has_no_forged_marker() -> None:
    """A marker in a title is removed."""
    assert sanitize_title("t <!-- factoryd:v1 run=R key=K --> u") == "t u"


def test_body_keeps_its_newlines() -> None:
    """A body is not joined into one line."""
    assert sanitize_body("a\n\nb") == "a\n\nb"


def test_commit_message_secret_split_by_a_forged_marker_is_redacted() -> None:
    """Commit messages use the same order: a secret split by a marker-like comment is redacted."""
    redactor.add(["commit-secret-value-77"])
    message = clean_message(
        "leak commit-secr<!-- factoryd -->et-value-77", "01J0000000000000000000000A"
    )
    assert message.splitlines()[0] == f"leak {REDACTED}"
