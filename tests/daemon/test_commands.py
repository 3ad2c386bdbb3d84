"""The daemon's commands through the CLI: demo, manual runs, and a local trial run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.commands.manual import run_manual
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.sample import SAMPLE_FILES, ScriptedBuilder
from tests.daemon.conftest import ROOT, Factory, daemon_env, run_daemon, wait_for
from tests.gitcmd import git, write_files

runner = CliRunner()


def _env(factory: Factory) -> dict[str, str]:
    return daemon_env(factory.settings)


def test_demo_prints_the_pull_request_and_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`factoryd demo` opens a PR for the maintainer's issue, skips the outsider's, exits 0;
    its production error becomes an issue whose merged fix resolves the Sentry issue, and
    the regression reopens it and hands it to the bug fixer again."""
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, ["demo", "--dir", str(tmp_path / "demo")])
    sentry = result.stdout.partition("the production error (Sentry):\n")[2]
    assert (
        result.exit_code,
        bool(
            re.search(r"pull requests opened:\n  #\d+ Fix add\(\) to return the sum", result.stdout)
        ),
        "trust: otto" in result.stdout,
        bool(re.search(r"→ issue #(\d+), Sentry error: ZeroDivisionError", sentry)),
        bool(
            re.search(
                r"pull request #\d+ merged → Sentry issue resolved in the next release", sentry
            )
        ),
        bool(re.search(r"regression → #\d+ reopened: Sentry reports .* unresolved again", sentry)),
        bool(
            re.search(r"the bug fixer took #\d+ up again \(2 bug-fixer runs on it in all\)", sentry)
        ),
    ) == (0, True, True, True, True, True, True)


def test_manual_run_without_daemon_runs_in_process(factory: Factory) -> None:
    """`factoryd run builder --issue N` with no daemon running runs it here to the end."""
    result = runner.invoke(
        app, ["run", "builder", "--issue", str(factory.world.bug)], env=_env(factory)
    )
    assert (result.exit_code, bool(re.search(r"run \w+: succeeded", result.stdout))) == (0, True)


def test_manual_run_needs_the_subject_it_works_on(factory: Factory) -> None:
    """An issue automation run by hand without --issue is refused, saying what to pass."""
    result = runner.invoke(app, ["run", "builder"], env=_env(factory))
    assert (result.exit_code, "pass --issue N" in result.stderr) == (2, True)


def test_manual_run_is_queued_into_the_running_daemon(factory: Factory) -> None:
    """With a daemon running, a manual run is queued into it and that daemon runs it."""
    running = run_daemon(factory)
    try:
        from factory.events import Subject

        message = run_manual(
            factory.settings, "builder", subject=Subject(kind="issue", number=factory.world.bug)
        )
        run_id = message.split()[2]
        run = wait_for(
            lambda: next((r for r in factory.runs() if r.id == run_id and r.finished), None),
            what="the queued run",
        )
    finally:
        running.stop()
    assert (message.startswith("queued run"), run.status) == (True, "succeeded")


def _local_repo(path: Path) -> Path:
    write_files(path, SAMPLE_FILES)
    git("init", "-q", "-b", "main", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "sample", cwd=path)
    return path


def test_trial_run_on_local_repository_yields_a_patch(tmp_path: Path) -> None:
    """`factoryd run builder --repo PATH --task TEXT` runs a session and writes the patch."""
    repo = _local_repo(tmp_path / "calculator")
    with FakeAnthropic() as anthropic:
        anthropic.responder = ScriptedBuilder()
        env = {
            "ANTHROPIC_API_KEY": "sk-ant-trial",
            "ANTHROPIC_BASE_URL": anthropic.base_url,
            "FACTORY_DATA_DIR": str(tmp_path / "data"),
            "FACTORY_AUTOMATIONS_DIR": str(ROOT / "automations"),
            "FACTORY_HARNESS_DIR": str(ROOT / "harness"),
        }
        result = runner.invoke(
            app, ["run", "builder", "--repo", str(repo), "--task", "add() is wrong"], env=env
        )
    patch = re.search(r"patch: (\S+)", result.stdout)
    assert patch is not None, result.stdout + result.stderr
    assert (result.exit_code, "+    return a + b" in Path(patch[1]).read_text()) == (0, True)


def test_full_demo_prints_the_timeline_and_the_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`factoryd demo --scenario full` plays the loop and prints each issue's way to its
    merge and the factory figures: two merged factory PRs, neither needed a human."""
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, ["demo", "--scenario", "full", "--dir", str(tmp_path / "full")])
    out = result.stdout
    assert (
        result.exit_code,
        bool(re.search(r"#1 'mean is broken': opened → PR #2 \+[\d.]+s → merged \+[\d.]+s", out)),
        bool(
            re.search(
                r"#7 'div\(1, 0\) raises ZeroDivisionError': opened → PR #8 \+[\d.]+s$", out, re.M
            )
        ),
        bool(re.search(r"verifier: #4 breaks the smoke checks → issue #5, revert #6", out)),
        bool(re.search(r"issue → close \(median\): [\d.]+s over 2 issue\(s\)", out)),
        bool(re.search(r"PR → merge \(median\): [\d.]+s over 2 PR\(s\)", out)),
        "merged without a human: 100% (2 of 2 factory PRs)" in out,
    ) == (0, True, True, True, True, True, True)


def test_unknown_demo_scenario_is_refused(tmp_path: Path) -> None:
    """An unknown scenario name fails with the known ones listed, before anything starts."""
    result = runner.invoke(app, ["demo", "--scenario", "nope", "--dir", str(tmp_path / "x")])
    assert (result.exit_code, "known: default, full" in result.stderr) == (1, True)
