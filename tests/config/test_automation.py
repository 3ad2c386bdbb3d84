"""The automation loader: shipped files are valid, broken files report every FILE:LINE:COL."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from factory.config.automation import parse_memory_mb
from factory.config.durations import parse_duration
from factory.config.loader import load_factory, read_config, validate
from factory.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
BAD = Path(__file__).resolve().parents[1] / "data" / "bad_automations"
EXPECT = re.compile(r"^# expect: (\d+):(\d+): (.+)$")
MINIMAL = "name: minimal\non: [{manual: {}}]\nprompt: Say hello to {{ repo.full_name }}.\n"


def _expected(path: Path) -> set[tuple[str, int, int, str]]:
    """Read the ``# expect: LINE:COL: text`` header lines of one case file."""
    found = set()
    for line in path.read_text().splitlines():
        match = EXPECT.match(line)
        if match:
            found.add((str(path), int(match[1]), int(match[2]), match[3]))
    return found


def _bad_cases() -> list[Path]:
    return sorted(BAD.iterdir())


def _write_minimal(folder: Path, name: str = "minimal") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(MINIMAL.replace("minimal", name))
    return path


@pytest.fixture
def harness_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped harness folder."""
    return Path(shutil.copytree(ROOT / "harness", tmp_path / "harness"))


def test_shipped_automations_and_harness_have_no_issues() -> None:
    """The shipped automations/ and harness/ validate with no issue at all."""
    assert validate(ROOT / "automations", ROOT / "harness") == []


def test_there_are_enough_bad_cases() -> None:
    """The broken-file corpus has at least 14 separate cases."""
    assert len(_bad_cases()) >= 14


@pytest.mark.parametrize("case", _bad_cases(), ids=lambda p: p.name)
def test_bad_case_reports_exactly_the_expected_positions(case: Path) -> None:
    """Each broken case reports exactly its expected FILE:LINE:COL, with the expected text."""
    if case.is_dir():
        files = sorted(case.iterdir())
        issues = validate(case, ROOT / "harness")
    else:
        files = [case]
        _, issues = read_config([case], ROOT / "harness")
    expected = set().union(*(_expected(f) for f in files))
    assert expected, f"case {case.name} has no '# expect:' lines"
    assert {(i.file, i.line, i.col) for i in issues} == {e[:3] for e in expected}
    for file, line, col, text in expected:
        messages = [i.message for i in issues if (i.file, i.line, i.col) == (file, line, col)]
        assert any(text in m for m in messages), (line, col, text, messages)


def test_load_factory_raises_config_error_naming_the_second_file() -> None:
    """load_factory raises ConfigError whose issue is at the second file's name value."""
    with pytest.raises(ConfigError) as caught:
        load_factory(BAD / "duplicate_name", ROOT / "harness")
    second = str(BAD / "duplicate_name" / "b.yaml")
    assert [(i.file, i.line, i.col) for i in caught.value.issues] == [(second, 3, 7)]


def test_issue_file_names_stay_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative automations folder gives relative file names in issues."""
    shutil.copy(BAD / "unknown_tool.yaml", tmp_path / "unknown_tool.yaml")
    shutil.copytree(ROOT / "harness", tmp_path / "h")
    monkeypatch.chdir(tmp_path)
    issues = validate(Path("."), Path("h"))
    assert [(i.file, i.line, i.col) for i in issues] == [("unknown_tool.yaml", 6, 15)]


def test_missing_automations_folder_is_an_issue(tmp_path: Path) -> None:
    """A folder that does not exist is reported, not raised as OSError."""
    issues = validate(tmp_path / "nope", ROOT / "harness")
    assert [i.message for i in issues] == ["automations folder not found"]


def test_minimal_file_is_valid_with_defaults(tmp_path: Path, harness_copy: Path) -> None:
    """A file with only name, on and prompt loads with the documented defaults."""
    _write_minimal(tmp_path / "a")
    automation = load_factory(tmp_path / "a", harness_copy).automations["minimal"]
    assert (automation.trust, automation.enabled, automation.sandbox.backend) == (
        "maintainers",
        True,
        "bwrap",
    )


def test_on_key_stays_a_string_under_yaml_1_2(tmp_path: Path, harness_copy: Path) -> None:
    """``on:`` is read as the key "on" (YAML 1.2), so triggers load."""
    _write_minimal(tmp_path / "a")
    automation = load_factory(tmp_path / "a", harness_copy).automations["minimal"]
    assert [t.kind for t in automation.on] == ["manual"]


def test_loaded_automation_keeps_path_and_source_text(tmp_path: Path, harness_copy: Path) -> None:
    """A loaded automation carries the path it came from and its YAML text."""
    path = _write_minimal(tmp_path / "a")
    automation = load_factory(tmp_path / "a", harness_copy).automations["minimal"]
    assert (automation.path, automation.source_text) == (path, MINIMAL)


def test_content_hash_changes_with_an_included_document(tmp_path: Path, harness_copy: Path) -> None:
    """Editing a harness document the automation includes changes its content hash."""
    path = _write_minimal(tmp_path / "a")
    path.write_text(MINIMAL + "context: [harness/factory-floor.md]\n")
    before = load_factory(tmp_path / "a", harness_copy).automations["minimal"].content_hash
    (harness_copy / "factory-floor.md").write_text("changed\n")
    after = load_factory(tmp_path / "a", harness_copy).automations["minimal"].content_hash
    assert before != after


def test_content_hash_ignores_documents_not_included(tmp_path: Path, harness_copy: Path) -> None:
    """Editing a harness document the automation does not include keeps its content hash."""
    _write_minimal(tmp_path / "a")
    before = load_factory(tmp_path / "a", harness_copy).automations["minimal"].content_hash
    (harness_copy / "coding-standards.md").write_text("changed\n")
    after = load_factory(tmp_path / "a", harness_copy).automations["minimal"].content_hash
    assert before == after


def test_content_hash_changes_with_the_policy(tmp_path: Path, harness_copy: Path) -> None:
    """Editing policy.yaml changes every automation's content hash."""
    _write_minimal(tmp_path / "a")
    before = load_factory(tmp_path / "a", harness_copy).automations["minimal"].content_hash
    policy = harness_copy / "policy.yaml"
    policy.write_text(policy.read_text() + "# a comment\n")
    after = load_factory(tmp_path / "a", harness_copy).automations["minimal"].content_hash
    assert before != after


def test_every_duplicate_key_is_reported(tmp_path: Path) -> None:
    """Two duplicated keys in one file give two issues, not just the first."""
    path = tmp_path / "dups.yaml"
    path.write_text(MINIMAL + "name: again\nlimits: {max_turns: 3, max_turns: 4}\n")
    _, issues = read_config([path], ROOT / "harness")
    assert [(i.line, i.col) for i in issues] == [(4, 1), (5, 24)]


def test_policy_issues_are_reported_with_automation_issues(
    tmp_path: Path, harness_copy: Path
) -> None:
    """A broken policy and a broken automation are reported together."""
    (harness_copy / "policy.yaml").write_text("bogus: 1\n")
    path = tmp_path / "a.yaml"
    path.write_text(MINIMAL + "tools: [hammer]\n")
    _, issues = read_config([path], harness_copy)
    assert sorted((Path(i.file).name, i.line, i.col) for i in issues) == [
        ("a.yaml", 4, 9),
        ("policy.yaml", 1, 1),
        ("policy.yaml", 1, 1),
        ("policy.yaml", 1, 1),
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), (45, 45)],
    ids=["seconds", "minutes", "hours", "days", "combo", "int"],
)
def test_parse_duration_reads_seconds(text: str | int, seconds: int) -> None:
    """Durations in every accepted form become whole seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 m", "1m1h", "-1s", "1w", "1.5h", True])
def test_parse_duration_rejects_bad_forms(text: object) -> None:
    """Malformed durations raise ValueError."""
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "mb"), [("2g", 2048), ("512m", 512), ("1GB", 1024), (300, 300), ("64", 64)]
)
def test_parse_memory_mb_reads_sizes(value: str | int, mb: int) -> None:
    """Memory sizes become megabytes."""
    assert parse_memory_mb(value) == mb
