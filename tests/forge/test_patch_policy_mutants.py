"""Tests that kill mutants `make mutants` found alive in the patch_policy module."""

from __future__ import annotations

import pytest

from factory.errors import PatchRefused
from factory.forge.patch_policy import ChangedFile, PatchLimits, _unquote, check_staged

from .patch_helpers import make_policy

# Equivalent mutants (no observable difference):
# - x__unquote__mutmut_7, _25, _121: "utf-8" -> "UTF-8"; Python normalizes codec names, so
#   both spell the same codec.

RUN = "01JRUNAAAAAAAAAAAAABCDEFGH"


def _file(path: str = "src/app.py", **kwargs: object) -> ChangedFile:
    fields: dict[str, object] = {
        "path": path,
        "status": "M",
        "old_mode": "100644",
        "new_mode": "100644",
        "added": 1,
        "deleted": 1,
        "binary": False,
        **kwargs,
    }
    return ChangedFile(**fields)  # type: ignore[arg-type]


def _refusal(files: list[ChangedFile], limits: PatchLimits | None = None) -> str:
    with pytest.raises(PatchRefused) as caught:
        check_staged(files, make_policy(), limits or PatchLimits(), RUN)
    return str(caught.value)


# --- _unquote: git's C-quoted header paths -------------------------------------------------


def test_unquote_leaves_a_plain_path_as_it_is() -> None:
    """A path git did not quote comes back unchanged."""
    assert _unquote(b"src/app.py") == "src/app.py"


def test_unquote_keeps_undecodable_bytes_of_a_plain_path() -> None:
    """Bytes of an unquoted path that are not UTF-8 survive as surrogate escapes."""
    assert _unquote(b"caf\xe9.txt") == "caf\udce9.txt"


def test_unquote_leaves_a_path_that_only_starts_with_a_quote() -> None:
    """A path with a leading quote but no closing one is not a quoted path."""
    assert _unquote(b'"abc') == '"abc'


def test_unquote_leaves_a_path_that_only_ends_with_a_quote() -> None:
    """A path with a closing quote but no leading one is not a quoted path."""
    assert _unquote(b'abc"') == 'abc"'


def test_unquote_strips_the_quotes_of_a_quoted_path() -> None:
    """A quoted path without escapes loses exactly its two quotes."""
    assert _unquote(b'"docs/guide.md"') == "docs/guide.md"


def test_unquote_decodes_every_named_escape() -> None:
    r"""\n \t \" \\ \a \b \f \r \v decode to the control characters git meant."""
    raw = b'"\\n\\t\\"\\\\\\a\\b\\f\\r\\v"'
    assert _unquote(raw) == '\n\t"\\\a\b\f\r\v'


def test_unquote_decodes_an_escape_in_the_middle_of_a_path() -> None:
    """An escape after a plain character decodes and the rest of the path follows."""
    assert _unquote(b'"x\\nab"') == "x\nab"


def test_unquote_decodes_an_escape_at_the_start_of_a_path() -> None:
    """An escape as the first character decodes and the rest of the path follows."""
    assert _unquote(b'"\\nab"') == "\nab"


def test_unquote_decodes_an_escape_just_before_the_closing_quote() -> None:
    """An escape that ends the path still decodes."""
    assert _unquote(b'"a\\n"') == "a\n"


def test_unquote_keeps_an_unknown_escape_as_its_character() -> None:
    r"""An escape git does not define (\q) stands for the character itself."""
    assert _unquote(b'"a\\qb"') == "aqb"


def test_unquote_keeps_a_lone_trailing_backslash() -> None:
    """A backslash with nothing after it inside the quotes is kept as a backslash."""
    assert _unquote(b'"ab\\"') == "ab\\"


def test_unquote_decodes_octal_escapes_to_utf8_bytes() -> None:
    """Octal escapes are raw bytes: \\303\\251 is the UTF-8 encoding of é."""
    assert _unquote(b'"caf\\303\\251"') == "café"


def test_unquote_continues_after_an_octal_escape() -> None:
    """An octal escape after a plain character decodes and the rest of the path follows."""
    assert _unquote(b'"x\\101yz"') == "xAyz"


def test_unquote_decodes_octal_digits_zero_and_seven() -> None:
    r"""0 and 7 are octal digits: \040 is a space and \177 is DEL."""
    assert _unquote(b'"\\040\\177"') == " \x7f"


def test_unquote_does_not_read_eight_as_an_octal_digit() -> None:
    r"""\181 is not octal: the backslash escapes the 1 and "81" follows."""
    assert _unquote(b'"\\181"') == "181"


def test_unquote_keeps_octal_bytes_that_are_not_utf8() -> None:
    r"""An octal byte that is not valid UTF-8 (\377) survives as a surrogate escape."""
    assert _unquote(b'"a\\377"') == "a\udcff"


def test_unquote_keeps_raw_non_utf8_bytes_inside_quotes() -> None:
    """Raw non-UTF-8 bytes between the quotes come back as the same surrogate escapes."""
    assert _unquote(b'"caf\xe9\\n"') == "caf\udce9\n"


def test_unquote_walks_every_plain_character() -> None:
    """A quoted path of plain characters is copied character by character."""
    assert _unquote(b'"abc"') == "abc"


# --- check_staged: the authoritative check on what git staged ------------------------------


def test_check_staged_names_an_unknown_run_as_a_question_mark() -> None:
    """Without a run id the refusal says "run ?"."""
    with pytest.raises(PatchRefused) as caught:
        check_staged([], make_policy(), PatchLimits())
    assert str(caught.value) == "run ?: the patch changes nothing"


def test_check_staged_refuses_an_empty_change_naming_the_run() -> None:
    """A patch that staged nothing is refused with the run id and the reason."""
    assert _refusal([]) == f"run {RUN}: the patch changes nothing"


def test_check_staged_accepts_exactly_max_files() -> None:
    """A change of exactly max_files files is allowed."""
    files = [_file(f"src/f{i}.py") for i in range(3)]
    check_staged(files, make_policy(), PatchLimits(max_files=3), RUN)  # no PatchRefused


def test_check_staged_refuses_more_than_max_files_with_the_counts() -> None:
    """One file over max_files is refused, naming both counts."""
    files = [_file(f"src/f{i}.py") for i in range(4)]
    message = _refusal(files, PatchLimits(max_files=3))
    assert message == f"run {RUN}: the patch changes 4 files, more than 3"


def test_check_staged_refuses_a_protected_path_naming_the_run() -> None:
    """A staged file under a protected path is refused with the run id and the path."""
    message = _refusal([_file(".github/workflows/ci.yml")])
    assert message == f"run {RUN}: the patch touches protected path '.github/workflows/ci.yml'"


def test_check_staged_refuses_a_path_inside_git_naming_path_and_problem() -> None:
    """A staged file under .git is refused, naming the file and why."""
    message = _refusal([_file(".git/hooks/pre-commit")])
    assert message == f"run {RUN}: the patch writes '.git/hooks/pre-commit', which is inside .git"


def test_check_staged_accepts_a_deleted_file() -> None:
    """A deleted file (new mode 000000) is allowed."""
    deleted = _file("src/old.py", status="D", new_mode="000000", added=0, deleted=4)
    check_staged([deleted], make_policy(), PatchLimits(), RUN)  # no PatchRefused


def test_check_staged_refuses_an_odd_mode_naming_path_and_mode() -> None:
    """A mode other than 100644/100755 is refused, naming the file and the mode."""
    message = _refusal([_file("src/app.py", new_mode="100600")])
    assert message == f"run {RUN}: the patch gives 'src/app.py' mode 100600"


def test_check_staged_counts_deleted_lines_toward_the_line_limit() -> None:
    """Added and removed lines both count: 3 added + 3 removed is over a limit of 5."""
    message = _refusal([_file(added=3, deleted=3)], PatchLimits(max_changed_lines=5))
    assert message == f"run {RUN}: the patch changes 6 lines, more than 5"


def test_check_staged_accepts_exactly_max_changed_lines() -> None:
    """A change of exactly max_changed_lines lines is allowed."""
    files = [_file(added=3, deleted=2)]
    check_staged(files, make_policy(), PatchLimits(max_changed_lines=5), RUN)  # no PatchRefused


# --- PatchLimits ---------------------------------------------------------------------------


def test_limits_accept_one_file_and_one_byte() -> None:
    """max_files=1 and max_bytes=1 are the smallest valid limits."""
    limits = PatchLimits(max_files=1, max_bytes=1)
    assert (limits.max_files, limits.max_bytes) == (1, 1)


@pytest.mark.parametrize(("max_files", "max_bytes"), [(0, 10), (10, 0)], ids=["files", "bytes"])
def test_limits_refuse_a_zero_limit(max_files: int, max_bytes: int) -> None:
    """A limit of 0 files or 0 bytes is refused, saying both must be at least 1."""
    with pytest.raises(ValueError) as caught:
        PatchLimits(max_files=max_files, max_bytes=max_bytes)
    assert str(caught.value) == "max_files and max_bytes must be at least 1"
