"""Tests that kill mutants `make mutants` found alive in the patch_policy module."""

from __future__ import annotations

import threading

import pytest

from factory.errors import PatchRefused
from factory.forge.patch_policy import (
    ChangedFile,
    PatchLimits,
    _unquote,
    check_staged,
    path_problem,
    precheck,
)

from .patch_helpers import make_policy

# Equivalent mutants (no observable difference):
# - x__unquote__mutmut_7, _25, _121: "utf-8" -> "UTF-8"; Python normalizes codec names, so
#   both spell the same codec.
# - x_path_problem__mutmut_3 (`not path or path.startswith("/")` -> `and`) and _6 (the "/"
#   spelled "XX/XX"): an empty or absolute path also has an empty part ("".split("/") is
#   [""], "/etc".split("/") starts with ""), which the loop refuses with the same words.
# - x_precheck__mutmut_8, _25, _34: `in_header = False` -> `None`; it is only tested for
#   truth, and None is as false as False.
# Timeouts no test can turn into a kill (each loops forever on any quoted path, and every
# test that decodes one hangs before a guarded one could fail):
# - x__unquote__mutmut_99, _100 (`i += 4` -> `i = 4` / `i -= 4` after an octal escape),
#   _109 (`i += 2` -> `i -= 2` after an escape), _113 (`i += 1` -> `i = 1`).

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


# --- precheck: the first look at the patch's headers -------------------------------------


def _diff(*headers: str, body: str = "@@ -1 +1 @@\n-a\n+b\n") -> bytes:
    """One file's diff: ``diff --git``, then ``headers``, then a small hunk."""
    return ("diff --git a/x b/x\n" + "".join(f"{h}\n" for h in headers) + body).encode()


def _precheck_refusal(patch: bytes, limits: PatchLimits | None = None) -> str:
    with pytest.raises(PatchRefused) as caught:
        precheck(patch, make_policy(), limits or PatchLimits(), RUN)
    return str(caught.value)


PROTECTED = ".github/workflows/ci.yml"


@pytest.mark.parametrize(
    "header",
    [
        f"rename from {PROTECTED}",
        f"rename to {PROTECTED}",
        f"copy from {PROTECTED}",
        f"copy to {PROTECTED}",
        f"--- a/{PROTECTED}",
        f"+++ b/{PROTECTED}",
        f"+++ b/{PROTECTED}\t2024-01-01 00:00:00",
        f"+++ {PROTECTED}",
        f'+++ "b/{PROTECTED}"',
    ],
    ids=[
        "rename-from",
        "rename-to",
        "copy-from",
        "copy-to",
        "old",
        "new",
        "new-with-timestamp",
        "new-without-prefix",
        "new-quoted",
    ],
)
def test_precheck_reads_the_path_of_every_header(header: str) -> None:
    """Each header that names a path is checked: a protected one is refused by its name."""
    assert _precheck_refusal(_diff(header)) == (
        f"run {RUN}: the patch touches protected path {PROTECTED!r}"
    )


def test_precheck_keeps_a_prefix_that_is_not_a_or_b() -> None:
    """Only ``a/`` and ``b/`` are git's prefixes; another first directory stays in the path."""
    assert _precheck_refusal(_diff("+++ c/.env")) == (
        f"run {RUN}: the patch touches protected path 'c/.env'"
    )


def test_precheck_skips_dev_null() -> None:
    """``/dev/null`` (a new or deleted file's other side) is no path."""
    assert precheck(_diff("--- /dev/null", "+++ b/docs/a.md"), make_policy(), PatchLimits()) is None


def test_precheck_names_the_problem_of_a_bad_path() -> None:
    """A path inside .git is refused naming the path and the problem."""
    assert _precheck_refusal(_diff("+++ b/.git/config")) == (
        f"run {RUN}: the patch writes '.git/config', which is inside .git"
    )


def test_precheck_refuses_an_empty_patch_naming_the_run() -> None:
    """A blank patch has nothing to commit."""
    assert _precheck_refusal(b"  \n") == (
        f"run {RUN}: the patch is empty: there is nothing to commit"
    )


def test_precheck_names_an_unknown_run_as_a_question_mark() -> None:
    """Without a run id the message says ``run ?``."""
    with pytest.raises(PatchRefused) as caught:
        precheck(b"", make_policy(), PatchLimits())
    assert str(caught.value) == "run ?: the patch is empty: there is nothing to commit"


def test_precheck_accepts_exactly_max_bytes() -> None:
    """A patch of exactly ``max_bytes`` passes; one byte more is refused with both sizes."""
    patch = _diff("+++ b/docs/a.md")
    ok = precheck(patch, make_policy(), PatchLimits(max_bytes=len(patch)), RUN)
    refused = _precheck_refusal(patch, PatchLimits(max_bytes=len(patch) - 1))
    assert (ok, refused) == (
        None,
        f"run {RUN}: the patch is {len(patch)} bytes, more than {len(patch) - 1}",
    )


def test_precheck_counts_files_by_their_diff_lines() -> None:
    """Exactly ``max_files`` files pass; one more is refused with both counts."""
    patch = _diff("+++ b/docs/a.md") + _diff("+++ b/docs/b.md")
    ok = precheck(patch, make_policy(), PatchLimits(max_files=2), RUN)
    refused = _precheck_refusal(patch, PatchLimits(max_files=1))
    assert (ok, refused) == (None, f"run {RUN}: the patch changes 2 files, more than 1")


def test_precheck_does_not_read_hunk_lines_as_headers() -> None:
    """After ``@@`` the lines are content: a removed line that looks like a header is not one."""
    patch = _diff("+++ b/docs/a.md", body=f"@@ -1 +1 @@\n--- a/{PROTECTED}\n+b\n")
    assert precheck(patch, make_policy(), PatchLimits(), RUN) is None


def test_precheck_does_not_read_text_before_the_first_diff_as_headers() -> None:
    """A preamble before the first ``diff --git`` (a commit message) is not a header."""
    patch = f"+++ b/{PROTECTED}\n".encode() + _diff("+++ b/docs/a.md")
    assert precheck(patch, make_policy(), PatchLimits(), RUN) is None


@pytest.mark.parametrize(
    "marker", ["GIT binary patch", "Binary files a/x and b/x differ"], ids=["git", "plain"]
)
def test_precheck_refuses_binary_data(marker: str) -> None:
    """Binary data is refused unless the limits allow it."""
    assert _precheck_refusal(_diff("+++ b/docs/a.bin", marker)) == (
        f"run {RUN}: the patch contains binary files"
    )


def test_precheck_allows_binary_data_when_the_limits_do() -> None:
    """With allow_binary, binary data passes and what follows it is content."""
    patch = _diff("+++ b/docs/a.bin", "GIT binary patch", body=f"+++ b/{PROTECTED}\n")
    assert precheck(patch, make_policy(), PatchLimits(allow_binary=True), RUN) is None


@pytest.mark.parametrize(
    ("header", "what"),
    [
        ("new file mode 120000", "a symlink"),
        ("new mode 160000", "a submodule"),
        ("old mode 100644", None),
        ("new mode 100755", None),
        ("index 1234abc..5678def 100777", "mode 100777"),
        ("new file mode 100600", "mode 100600"),
        ("deleted file mode 120000", None),
        ("index 1234abc..5678def", None),
    ],
    ids=[
        "symlink",
        "submodule",
        "regular",
        "executable",
        "index-odd",
        "new-odd",
        "deleting-a-symlink",
        "index-without-mode",
    ],
)
def test_precheck_judges_file_modes(header: str, what: str | None) -> None:
    """Symlinks, submodules and odd modes are refused; regular, executable and removals pass."""
    patch = _diff(header, "+++ b/docs/a.md")
    if what is None:
        assert precheck(patch, make_policy(), PatchLimits(), RUN) is None
    else:
        assert _precheck_refusal(patch) == f"run {RUN}: the patch contains {what}; that is refused"


# --- path_problem --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("", "is not a plain relative path"),
        ("a\\b", "is not a plain relative path"),
        ("a\0b", "is not a plain relative path"),
        ("a/./b", "is not a plain relative path"),
        ("a/", "is not a plain relative path"),
        ("GIT~1/config", "is inside .git"),
        (".git /config", "is inside .git"),
        ("GITMOD~1", "is a .gitmodules file (submodules)"),
        (".gitmodules.", "is a .gitmodules file (submodules)"),
        (".github/x", None),
        ("a/.gitignore", None),
        ("a/..b", None),
        (".gitX/config", None),
    ],
    ids=[
        "empty",
        "backslash",
        "nul",
        "dot-part",
        "trailing-slash",
        "git-short-name",
        "git-trailing-space",
        "gitmodules-short-name",
        "gitmodules-trailing-dot",
        "github",
        "gitignore",
        "dots-in-a-name",
        "git-then-a-letter",
    ],
)
def test_path_problem_of_odd_paths(path: str, problem: str | None) -> None:
    """Odd spellings of .git and .gitmodules and of non-relative paths are caught."""
    assert path_problem(path) == problem


def test_precheck_keeps_spaces_in_a_header_path() -> None:
    """A path with a space is read whole (up to a tab), so its protection is not dodged."""
    assert _precheck_refusal(_diff("+++ b/my docs/.env")) == (
        f"run {RUN}: the patch touches protected path 'my docs/.env'"
    )


def test_unquote_of_an_octal_escape_finishes() -> None:
    """Decoding steps past each octal escape: a path with several of them is decoded promptly."""
    done: list[str] = []
    worker = threading.Thread(
        target=lambda: done.append(_unquote(b'"a\\303\\251b\\101"')), daemon=True
    )
    worker.start()
    worker.join(timeout=10)
    assert done == ["a\u00e9bA"]
