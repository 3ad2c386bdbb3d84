"""The reproduction check's split of a patch and its refusals before any test runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.config.review_policy import DEFAULT_TEST_PATHS
from factory.config.review_policy import TestsPolicy as RepoTests
from factory.errors import OutputRefused
from factory.forge.reproduce import check_reproduction, split_patch
from factory.interfaces import SandboxLimits
from factory.sandbox import make_sandbox
from factory.workspace import Mirror


def _section(path: str) -> bytes:
    return (
        f"diff --git a/{path} b/{path}\nindex 1111111..2222222 100644\n--- a/{path}\n"
        f"+++ b/{path}\n@@ -1 +1 @@\n-old\n+new\n"
    ).encode()


PATCH = _section("calc.py") + _section("tests/test_calc.py")


def test_split_keeps_only_the_test_files_in_the_test_part() -> None:
    """The test part holds the test file's section alone; the fix is listed as the rest."""
    part, tests, others = split_patch(PATCH, list(DEFAULT_TEST_PATHS))
    assert (part, tests, others) == (
        _section("tests/test_calc.py"),
        ["tests/test_calc.py"],
        ["calc.py"],
    )


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        (_section("calc.py"), "has no test file"),
        (_section("tests/test_calc.py"), "only test files"),
    ],
    ids=["no-test", "no-fix"],
)
def test_change_without_test_or_fix_is_refused(tmp_path: Path, patch: bytes, reason: str) -> None:
    """A change with no test file, or nothing but tests, is refused with that reason."""
    with pytest.raises(OutputRefused, match=reason):
        check_reproduction(
            patch,
            mirror=Mirror(tmp_path, "acme/calc", "file:///nowhere"),
            base_sha="0" * 40,
            sandbox=make_sandbox("none"),
            tests=RepoTests(command="true"),
            limits=SandboxLimits(),
            data_dir=tmp_path,
            run_id="r1",
        )


def test_no_test_command_is_refused(tmp_path: Path) -> None:
    """Without the policy's tests.command the check refuses, naming it."""
    with pytest.raises(OutputRefused, match=r"tests\.command"):
        check_reproduction(
            PATCH,
            mirror=Mirror(tmp_path, "acme/calc", "file:///nowhere"),
            base_sha="0" * 40,
            sandbox=make_sandbox("none"),
            tests=RepoTests(),
            limits=SandboxLimits(),
            data_dir=tmp_path,
            run_id="r1",
        )
