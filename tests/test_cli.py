"""The factoryd CLI, driven through typer's runner: validate, runs, show, and the placeholders."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.events import Event, Subject
from factory.interfaces import Usage
from factory.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "bad_automations"
EXPECT = re.compile(r"^# expect: (\d+):(\d+): (.+)$")
runner = CliRunner()


def _expected_lines(case: Path, folder: Path) -> set[tuple[str, str, str]]:
    """The (file, line, col) each ``# expect:`` header of a case names, as copied into folder."""
    found = set()
    for file in sorted(case.iterdir()) if case.is_dir() else [case]:
        for line in file.read_text().splitlines():
            if m := EXPECT.match(line):
                found.add((str(folder / file.name), m[1], m[2]))
    return found


def test_validate_shipped_config_exits_0(monkeypatch: pytest.MonkeyPatch) -> None:
    """`factoryd validate` in the repository root accepts the shipped automations and harness."""
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, ["validate"])
    assert (result.exit_code, result.stdout.strip()) == (0, "ok")


@pytest.mark.parametrize("case", sorted(BAD.iterdir()), ids=lambda p: p.name)
def test_validate_bad_case_exits_1_with_every_position(case: Path, tmp_path: Path) -> None:
    """`factoryd validate` exits 1 and prints FILE:LINE:COL for every error of a broken file."""
    folder = tmp_path / "automations"
    if case.is_dir():
        shutil.copytree(case, folder)
    else:
        folder.mkdir()
        shutil.copy(case, folder / case.name)
    result = runner.invoke(
        app, ["validate", "--automations", str(folder), "--harness", str(ROOT / "harness")]
    )
    printed = {
        tuple(line.split(":")[:3]) for line in result.stdout.splitlines() if line.startswith("/")
    }
    assert (result.exit_code, printed) == (1, _expected_lines(case, folder))


def _seed_store(path: Path) -> str:
    with RunStore.open(path) as store:
        event_id, _ = store.add_event(
            Event(
                source="manual",
                kind="manual",
                dedup_key="k1",
                subject=Subject(kind="issue", number=7),
            )
        )
        run_id = store.create_run(
            "builder",
            event_id=event_id,
            subject_key="issue:7",
            content_hash="abc123",
            prompt_snapshot="name: builder",
        )
        store.start_run(run_id, "test")
        store.add_step(
            run_id, "model_response", {"content": [{"type": "text", "text": "hello"}]}, text="hello"
        )
        store.add_step(run_id, "tool_result", {"content": "ok"}, text="tests passed")
        store.add_usage(run_id, Usage(input_tokens=100, output_tokens=20), 0.0123)
        store.finish_run(run_id, "succeeded", stop_reason="submitted")
        store.create_run("triage", subject_key="issue:8")
    return run_id


def test_runs_lists_newest_first(tmp_path: Path) -> None:
    """`factoryd runs --json` lists every run, newest first."""
    _seed_store(tmp_path / "f.db")
    result = runner.invoke(app, ["runs", "--db", str(tmp_path / "f.db"), "--json"])
    assert [r["automation"] for r in json.loads(result.stdout)] == ["triage", "builder"]


def test_runs_filters_by_status(tmp_path: Path) -> None:
    """`factoryd runs --status succeeded` shows only succeeded runs."""
    run_id = _seed_store(tmp_path / "f.db")
    result = runner.invoke(app, ["runs", "--db", str(tmp_path / "f.db"), "--status", "succeeded"])
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == [run_id]


def test_show_prints_steps_in_order(tmp_path: Path) -> None:
    """`factoryd show RUN_ID` prints the header and each step's text in sequence."""
    run_id = _seed_store(tmp_path / "f.db")
    result = runner.invoke(app, ["show", run_id, "--db", str(tmp_path / "f.db")])
    out = result.stdout
    assert (result.exit_code, out.index("hello") < out.index("tests passed"), "$0.0123" in out) == (
        0,
        True,
        True,
    )


def test_show_json_has_full_payloads(tmp_path: Path) -> None:
    """`factoryd show --json` carries every step's full JSON payload."""
    run_id = _seed_store(tmp_path / "f.db")
    result = runner.invoke(app, ["show", run_id, "--db", str(tmp_path / "f.db"), "--json"])
    steps = json.loads(result.stdout)["steps"]
    assert steps[0]["payload"] == {"content": [{"type": "text", "text": "hello"}]}


def test_show_unknown_run_names_it(tmp_path: Path) -> None:
    """`factoryd show` of a missing run fails with an error naming the run id."""
    _seed_store(tmp_path / "f.db")
    result = runner.invoke(app, ["show", "NOPE", "--db", str(tmp_path / "f.db")])
    assert (result.exit_code, "run 'NOPE' not found" in result.stderr) == (1, True)


def test_runs_on_a_missing_store_says_so(tmp_path: Path) -> None:
    """`factoryd runs --db` of a path with no store fails with a message naming the path."""
    result = runner.invoke(app, ["runs", "--db", str(tmp_path / "none.db")])
    assert (result.exit_code, str(tmp_path / "none.db") in result.stderr) == (1, True)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["validate"],
        ["runs"],
        ["show"],
        ["start"],
        ["run"],
        ["demo"],
        ["viewer"],
        ["sandbox", "exec"],
    ],
    ids=lambda a: " ".join(a) or "root",
)
def test_every_command_has_help(argv: list[str]) -> None:
    """`--help` on every command exits 0 and says what the command does."""
    result = runner.invoke(app, [*argv, "--help"])
    assert result.exit_code == 0 and len(result.stdout) > 80


def test_sandbox_exec_passes_exit_code_and_output(tmp_path: Path) -> None:
    """`factoryd sandbox exec -- CMD` returns the command's exit code and its output."""
    result = runner.invoke(
        app,
        [
            "sandbox",
            "exec",
            "--workspace",
            str(tmp_path),
            "--",
            "sh",
            "-c",
            "echo made > f; exit 7",
        ],
    )
    assert (result.exit_code, (tmp_path / "f").read_text()) == (7, "made\n")


def test_sandbox_exec_hides_daemon_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A canary in the CLI's environment is not visible to the sandboxed command."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "canary-cli-5ec7e7")
    result = runner.invoke(app, ["sandbox", "exec", "--", "sh", "-c", "env; cat /proc/1/environ"])
    assert (result.exit_code, "canary-cli-5ec7e7" in result.stdout) == (0, False)


def test_sandbox_exec_timeout_exits_124() -> None:
    """A command that outlives --timeout is killed and the CLI exits 124."""
    result = runner.invoke(app, ["sandbox", "exec", "--timeout", "0.5", "--", "sleep", "30"])
    assert result.exit_code == 124


def test_start_refuses_with_every_problem_listed(tmp_path: Path) -> None:
    """`factoryd start` with a broken automation and no credentials lists all of it, exit 1."""
    folder = tmp_path / "automations"
    folder.mkdir()
    shutil.copy(BAD / "unknown_tool.yaml", folder / "unknown_tool.yaml")
    env = {
        "FACTORY_AUTOMATIONS_DIR": str(folder),
        "FACTORY_HARNESS_DIR": str(ROOT / "harness"),
        "FACTORY_DATA_DIR": str(tmp_path / "data"),
    }
    result = runner.invoke(app, ["start"], env=env)
    lines = result.stderr.splitlines()
    assert (
        result.exit_code,
        any(line.strip().startswith(f"{folder / 'unknown_tool.yaml'}:6:15:") for line in lines),
        "  missing setting: GITHUB_REPOSITORY" in lines,
        "  missing setting: ANTHROPIC_API_KEY" in lines,
    ) == (1, True, True, True)
