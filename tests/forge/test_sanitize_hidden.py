"""Hidden text: invisible, format, private, unassigned and control code points are removed."""

from __future__ import annotations

import pytest

from factory.forge.markers import parse_markers
from factory.forge.sanitize import sanitize_body, sanitize_title, strip_invisible

ZWSP = "\u200b"


# -- hidden code points -----------------------------------------------------------------

HIDDEN = {
    "zero-width-space": "\u200b",
    "zero-width-non-joiner": "\u200c",
    "zero-width-joiner-alone": "\u200d",
    "left-to-right-mark": "\u200e",
    "right-to-left-mark": "\u200f",
    "lre": "\u202a",
    "rle": "\u202b",
    "pdf": "\u202c",
    "lro": "\u202d",
    "rlo": "\u202e",
    "word-joiner": "\u2060",
    "invisible-times": "\u2062",
    "lri": "\u2066",
    "rli": "\u2067",
    "fsi": "\u2068",
    "pdi": "\u2069",
    "deprecated-format": "\u206a",
    "arabic-letter-mark": "\u061c",
    "byte-order-mark": "\ufeff",
    "soft-hyphen": "\u00ad",
    "mongolian-vowel-separator": "\u180e",
    "interlinear-annotation": "\ufff9",
    "musical-format": "\U0001d173",
    "shorthand-format": "\U0001bca0",
    "tag-language": "\U000e0001",
    "tag-space": "\U000e0020",
    "tag-latin-a": "\U000e0041",
    "tag-cancel": "\U000e007f",
    "tag-block-unassigned": "\U000e0002",
    "private-use-bmp": "\ue000",
    "private-use-bmp-last": "\uf8ff",
    "private-use-plane-15": "\U000f0000",
    "private-use-plane-16-last": "\U0010fffd",
    "surrogate-high": "\ud800",
    "surrogate-low": "\udfff",
    "unassigned": "\u0378",
    "noncharacter": "\ufdd0",
    "noncharacter-fffe": "\ufffe",
    "nul": "\x00",
    "bell": "\x07",
    "escape": "\x1b",
    "unit-separator": "\x1f",
    "delete": "\x7f",
    "next-line": "\x85",
    "csi": "\x9b",
    "combining-grapheme-joiner": "\u034f",
    "hangul-choseong-filler": "\u115f",
    "hangul-jungseong-filler": "\u1160",
    "hangul-filler": "\u3164",
    "halfwidth-hangul-filler": "\uffa0",
    "khmer-inherent-vowel": "\u17b4",
    "khmer-inherent-vowel-aa": "\u17b5",
    "mongolian-free-variation": "\u180b",
    "mongolian-free-variation-3": "\u180d",
    "mongolian-free-variation-4": "\u180f",
    "variation-selector-1": "\ufe00",
    "variation-selector-16-alone": "\ufe0f",
    "variation-selector-17": "\U000e0100",
    "variation-selector-256": "\U000e01ef",
}


@pytest.mark.parametrize("char", HIDDEN.values(), ids=HIDDEN.keys())
def test_hidden_code_point_is_removed(char: str) -> None:
    """Every invisible, format, private, surrogate, unassigned or control code point goes."""
    assert strip_invisible(f"a{char}b") == "ab"


@pytest.mark.parametrize("char", HIDDEN.values(), ids=HIDDEN.keys())
def test_hidden_code_point_is_removed_from_bodies(char: str) -> None:
    """sanitize_body removes each hidden code point."""
    assert sanitize_body(f"fix{char} it") == "fix it"


@pytest.mark.parametrize("char", HIDDEN.values(), ids=HIDDEN.keys())
def test_hidden_code_point_is_removed_from_titles(char: str) -> None:
    """sanitize_title removes each hidden code point."""
    assert sanitize_title(f"fix{char} it") == "fix it"


VISIBLE = {
    "ascii": "plain text, with punctuation!",
    "whitespace": "a\tb\nc\r\nd",
    "latin-accents": "café naïve",
    "combining-accent": "e\u0301",
    "cjk": "中文",
    "arabic": "مرحبا",
    "hebrew": "שלום",
    "devanagari-with-virama": "क्ष",
    "nbsp": "a\u00a0b",
    "emoji": "🎉",
    "emoji-zwj-sequence": "👩\u200d💻",
    "emoji-skin-tone-zwj": "👩🏽\u200d💻",
    "emoji-vs16": "❤\ufe0f",
    "emoji-vs16-zwj": "❤\ufe0f\u200d🔥",
    "family": "👨\u200d👩\u200d👧",
    "whitespace-non-ascii": "é\tb\nc\r\nd",
    "lightest-skin-tone-zwj": "👩🏻\u200d💻",
    "darkest-skin-tone-zwj": "👩🏿\u200d💻",
    "below-grapheme-joiner": "a\u034e",
    "above-grapheme-joiner": "a\u0350",
    "below-hangul-fillers": "\u115e",
    "above-hangul-fillers": "\u1161",
    "below-khmer-inherent": "\u17b3",
    "above-khmer-inherent": "\u17b6",
    "below-mongolian-selectors": "\u180a",
    "above-mongolian-selectors": "\u1810",
    "below-hangul-filler": "\u3163",
    "above-hangul-filler": "\u3165",
    "below-variation-selectors": "\ufdff",
    "above-variation-selectors": "\ufe10",
    "below-halfwidth-filler": "\uff9f",
    "above-halfwidth-filler": "\uffa1",
}


@pytest.mark.parametrize("text", VISIBLE.values(), ids=VISIBLE.keys())
def test_visible_text_is_kept(text: str) -> None:
    """Ordinary text of any script, whitespace and emoji sequences pass unchanged."""
    assert strip_invisible(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\u200d👩", "a👩"),
        ("👩\u200db", "👩b"),
        ("\u200d👩", "👩"),
        ("👩\u200d", "👩"),
        ("👩\u200d\u200d💻", "👩\u200d💻"),
        ("👩\u200d\u200b💻", "👩💻"),
        ("❤\ufe0f\ufe0f", "❤\ufe0f"),
        ("\ufe0f❤", "❤"),
        ("a\ufe0f", "a"),
        ("1\ufe0f\u20e3", "1\u20e3"),
        ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "🏴"),
        ("❤\U000e0100", "❤"),
    ],
    ids=[
        "zwj-after-letter",
        "zwj-before-letter",
        "zwj-at-start",
        "zwj-at-end",
        "zwj-doubled",
        "zwj-next-to-hidden",
        "vs16-doubled",
        "vs16-at-start",
        "vs16-after-letter",
        "keycap-vs16",
        "flag-tags",
        "vs17-after-emoji",
    ],
)
def test_joiners_and_selectors_survive_only_inside_emoji(text: str, expected: str) -> None:
    """A ZWJ is kept only between pictographs and one VS16 only right after one."""
    assert strip_invisible(text) == expected


@pytest.mark.parametrize("sep", ["\u2028", "\u2029"], ids=["line", "paragraph"])
def test_unicode_line_separators_become_newlines(sep: str) -> None:
    """Line and paragraph separators become a plain newline (visible, one meaning)."""
    assert strip_invisible(f"a{sep}b") == "a\nb"


def test_ascii_controls_are_removed_but_whitespace_kept() -> None:
    """In pure ASCII text, tab, newline and carriage return stay; other controls go."""
    assert strip_invisible("a\tb\x01c\nd\re\x7f") == "a\tbc\nd\re"


def test_strip_invisible_of_empty_text_is_empty() -> None:
    """Empty text stays empty."""
    assert strip_invisible("") == ""


def test_already_neutralized_mention_is_neutralized_once() -> None:
    """An agent-written '@\\u200balice' comes out with exactly one zero-width space."""
    assert sanitize_body(f"@{ZWSP}alice") == f"@{ZWSP}alice"


@pytest.mark.parametrize(
    "hidden", ["\u2060", "\u200d", "\U000e0041", "\u202e"], ids=["wj", "zwj", "tag", "rlo"]
)
def test_mention_hidden_behind_a_format_char_is_neutralized(hidden: str) -> None:
    """'@' + a hidden code point + a login is neutralized like a plain mention."""
    assert sanitize_body(f"cc @{hidden}alice") == f"cc @{ZWSP}alice"


@pytest.mark.parametrize(
    "hidden", ["\u200b", "\u2060", "\U000e0041", "\x00", "\u00ad"], ids=str.__repr__
)
def test_marker_split_by_a_hidden_code_point_is_stripped(hidden: str) -> None:
    """Removing hidden code points cannot join a marker: they go before markers are stripped."""
    text = f"<!-{hidden}- factoryd:v1 run=R1 key=K1 -->"
    assert (parse_markers(sanitize_body(text)), parse_markers(sanitize_title(text))) == ([], [])
