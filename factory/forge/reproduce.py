"""The reproduction check of ``open_pull_request: {require_failing_test: true}``.

A bug fix must carry a test that fails without the fix. The daemon checks it, not the model:

1. the agent's patch (exported from the sandbox) is split per file into its *test part* (files
   matching the policy's ``tests.paths``) and the rest; a change with no test file, or with
   nothing but test files, is refused;
2. two fresh checkouts of the base commit are made from the mirror by host git (nothing the
   agent wrote is in them yet); inside the run's sandbox (no network), one gets only the test
   part (``git apply``), the other the whole patch;
3. the policy's ``tests.command`` runs in each (``sh -c``, in the sandbox): it must *fail* with
   only the tests (exit code not 0, not a timeout, not "command not found") and *pass* with
   the whole change (exit 0). Otherwise ``OutputRefused`` says which step did not hold, with
   the tail of the command's output, so the agent can fix it or give up (needs-human).

The patch is applied in the sandbox, never on the host; the checkouts are deleted afterwards.
This is the cheapest honest check: it proves the tests are red before and green after, not
that they test the right thing (that is the reviewer's job).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import structlog

from factory.config.globs import matches_any
from factory.config.review_policy import TestsPolicy
from factory.errors import OutputRefused
from factory.forge.patch_policy import _header_paths
from factory.interfaces import ExecResult, Sandbox, SandboxLimits
from factory.workspace import Mirror
from factory.workspace.gitutil import run_git
from factory.workspace.patch import SANDBOX_GIT_ENV

log = structlog.get_logger(__name__)

_NOT_RUN = (126, 127)
"""Exit codes of a shell that could not run the command: not a failing test."""
_APPLY = (
    "git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c safe.directory=* "
    "apply --whitespace=nowarn -p1 -"
)


@dataclass(frozen=True)
class Reproduction:
    """What the daemon saw: the tests failed before the fix and pass with it."""

    command: str
    """The test command that ran."""
    test_files: tuple[str, ...]
    """The change's test files."""
    failed_exit: int
    """Exit code of the command with only the tests applied."""

    def note(self, base_sha: str) -> str:
        """Return the line the daemon adds to the pull request's body."""
        files = ", ".join(f"`{f}`" for f in self.test_files)
        return (
            f"Reproduction checked by factoryd: `{self.command}` failed (exit {self.failed_exit})"
            f" on {base_sha[:12]} with only the test files ({files}), and passes with the fix."
        )


def split_patch(patch: bytes, test_globs: list[str]) -> tuple[bytes, list[str], list[str]]:
    """Split ``patch`` into its test part; return (test part, test files, other files)."""
    sections: list[bytes] = []
    for chunk in patch.split(b"\ndiff --git "):
        sections.append(chunk if not sections else b"diff --git " + chunk)
    test_part: list[bytes] = []
    tests: list[str] = []
    others: list[str] = []
    for section in sections:
        if not section.startswith(b"diff --git "):
            continue
        paths: list[str] = []
        for line in section.split(b"\n"):
            if line.startswith((b"@@", b"GIT binary patch")):
                break
            paths += _header_paths(line)
        if paths and all(matches_any(p, test_globs) for p in paths):
            tests += paths[-1:]
            test_part.append(section if section.endswith(b"\n") else section + b"\n")
        else:
            others += paths[-1:]
    return b"".join(test_part), tests, others


def _checkout(mirror: Mirror, dest: Path, base_sha: str) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with mirror.reading() as mirror_path:
        clone = ["clone", "--local", "--no-hardlinks", "--no-checkout", "--quiet"]
        run_git([*clone, "--", str(mirror_path), str(dest)])
    run_git(["checkout", "--quiet", "--detach", base_sha], cwd=dest)


def _tail(result: ExecResult) -> str:
    return (result.stdout + result.stderr).strip()[-1500:]


class _Checker:
    def __init__(
        self, sandbox: Sandbox, tests: TestsPolicy, limits: SandboxLimits, run_id: str
    ) -> None:
        self.sandbox = sandbox
        self.command = tests.command or ""
        self.limits = SandboxLimits(
            timeout_s=float(tests.timeout),
            memory_mb=limits.memory_mb,
            max_processes=limits.max_processes,
        )
        self.run_id = run_id

    def apply(self, where: Path, part: bytes, what: str) -> None:
        result = self.sandbox.exec(
            ["sh", "-c", _APPLY], workspace=where, limits=self.limits, stdin=part,
            env=SANDBOX_GIT_ENV,
        )  # fmt: skip
        if result.exit_code != 0:
            raise OutputRefused(
                f"open_pull_request: {what} does not apply on the base: {_tail(result)}"
            )

    def run(self, where: Path) -> ExecResult:
        return self.sandbox.exec(
            ["sh", "-c", self.command], workspace=where, limits=self.limits, env=SANDBOX_GIT_ENV
        )


def check_reproduction(
    patch: bytes,
    *,
    mirror: Mirror,
    base_sha: str,
    sandbox: Sandbox,
    tests: TestsPolicy,
    limits: SandboxLimits,
    data_dir: Path,
    run_id: str,
) -> Reproduction:
    """Check that ``patch``'s tests fail on ``base_sha`` without its fix and pass with it.

    Returns the Reproduction. Raises OutputRefused saying which step did not hold (no test
    command in the policy, no test file, no fix, tests passing without the fix, tests failing
    with it); SandboxUnavailable if the sandbox cannot start; GitError if host git fails.
    """
    if not tests.command:
        raise OutputRefused(
            "open_pull_request: require_failing_test is on but the policy names no"
            " tests.command to run"
        )
    test_part, test_files, others = split_patch(patch, tests.paths)
    if not test_files:
        raise OutputRefused(
            "open_pull_request: the change has no test file (tests.paths:"
            f" {', '.join(tests.paths)}); a bug fix must add a test that fails without the fix"
        )
    if not others:
        raise OutputRefused(
            "open_pull_request: the change has only test files; a bug fix needs the fix too"
        )
    checker = _Checker(sandbox, tests, limits, run_id)
    root = Path(data_dir) / "repro" / run_id
    try:
        _checkout(mirror, root / "tests-only", base_sha)
        checker.apply(root / "tests-only", test_part, "the test part of the change")
        before = checker.run(root / "tests-only")
        if before.timed_out or before.killed_reason is not None:
            why = before.killed_reason or "timeout"
            raise OutputRefused(
                f"open_pull_request: with only the test files, `{checker.command}` was killed"
                f" ({why}); a reproduction must fail, not hang"
            )
        if before.exit_code == 0 or before.exit_code in _NOT_RUN:
            what = "passed" if before.exit_code == 0 else f"could not run (exit {before.exit_code})"
            raise OutputRefused(
                f"open_pull_request: with only the test files ({', '.join(test_files)}) on the"
                f" base, `{checker.command}` {what}: the tests do not reproduce the bug."
                f" Output: {_tail(before)}"
            )
        _checkout(mirror, root / "whole", base_sha)
        checker.apply(root / "whole", patch, "the change")
        after = checker.run(root / "whole")
        if after.exit_code != 0 or after.timed_out:
            raise OutputRefused(
                f"open_pull_request: with the whole change, `{checker.command}` failed (exit"
                f" {after.exit_code}): the fix does not make the tests pass. Output: {_tail(after)}"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    log.info("reproduction_checked", run_id=run_id, test_files=len(test_files))
    return Reproduction(checker.command, tuple(test_files), before.exit_code)
