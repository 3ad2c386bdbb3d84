"""``staged:`` and ``shadow_of:`` in automation files: what loads and what is an error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from factory.config.loader import load_factory, validate

ROOT = Path(__file__).resolve().parents[2]
LIVE = """\
name: builder
on:
  - manual: {}
outputs:
  comment: {}
  add_labels: {allowed: [needs-human]}
prompt: Build it.
"""


def check(tmp_path: Path, **files: str) -> list[str]:
    """Write ``files`` (name -> YAML) as automations; return validate's issues as text."""
    folder = tmp_path / "automations"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text)
    harness = tmp_path / "harness"
    if not harness.exists():
        shutil.copytree(ROOT / "harness", harness)
    return [f"{i.line}:{i.col}: {i.message}" for i in validate(folder, harness)]


def loaded(tmp_path: Path, **files: str) -> dict[str, object]:
    """Load ``files`` as automations with the shipped harness; return them by name."""
    folder = tmp_path / "automations"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text)
    harness = Path(shutil.copytree(ROOT / "harness", tmp_path / "harness"))
    return dict(load_factory(folder, harness).automations)


def test_staged_automation_stages_every_output_kind(tmp_path: Path) -> None:
    """``staged: true`` makes each allowed kind of the run's outputs staged."""
    automations = loaded(tmp_path, builder=LIVE + "staged: true\n")
    outputs = automations["builder"].run_outputs()  # type: ignore[attr-defined]
    assert [outputs.staged(k) for k in outputs.kinds()] == [True, True]


def test_one_staged_kind_leaves_the_others_live(tmp_path: Path) -> None:
    """``outputs: {comment: {staged: true}}`` stages comments only."""
    text = LIVE.replace("comment: {}", "comment: {staged: true}")
    outputs = loaded(tmp_path, builder=text)["builder"].run_outputs()  # type: ignore[attr-defined]
    assert (outputs.staged("comment"), outputs.staged("add_labels")) == (True, False)


def test_shadow_stages_every_output_kind(tmp_path: Path) -> None:
    """A shadow's run outputs are all staged although its file does not say staged."""
    shadow = LIVE.replace(
        "name: builder\non:\n  - manual: {}\n", "name: next\nshadow_of: builder\n"
    )
    outputs = loaded(tmp_path, builder=LIVE, next=shadow)["next"].run_outputs()  # type: ignore[attr-defined]
    assert [outputs.staged(k) for k in outputs.kinds()] == [True, True]


def test_shadow_of_an_unknown_automation_is_an_error(tmp_path: Path) -> None:
    """A shadow naming no loaded automation is reported at its shadow_of key."""
    shadow = "name: next\nshadow_of: nobody\nprompt: p\n"
    assert check(tmp_path, next=shadow) == ["2:12: shadow_of: no automation named 'nobody'"]


def test_shadow_of_a_shadow_is_an_error(tmp_path: Path) -> None:
    """A shadow of a shadow is refused: a shadow names a live automation."""
    first = "name: first\nshadow_of: builder\nprompt: p\n"
    second = "name: second\nshadow_of: first\nprompt: p\n"
    assert check(tmp_path, builder=LIVE, first=first, second=second) == [
        "2:12: shadow_of: 'first' is itself a shadow; name a live automation"
    ]


def test_shadow_with_its_own_triggers_is_an_error(tmp_path: Path) -> None:
    """A shadow that lists ``on:`` is refused: it runs on its live automation's events."""
    shadow = "name: next\nshadow_of: builder\non:\n  - manual: {}\nprompt: p\n"
    [issue] = check(tmp_path, builder=LIVE, next=shadow)
    assert issue.endswith("on: a shadow runs on the events of 'builder'; remove its own triggers")


def test_shadow_of_another_subject_is_an_error(tmp_path: Path) -> None:
    """A shadow must have its live automation's subject."""
    shadow = "name: next\nshadow_of: builder\nsubject: pull_request\nprompt: p\n"
    assert check(tmp_path, builder=LIVE, next=shadow) == [
        "3:10: subject: a shadow of 'builder' must have its subject 'issue'"
    ]


@pytest.mark.parametrize("text", ["name: lonely\nprompt: p\n"], ids=["no-triggers"])
def test_live_automation_without_triggers_is_an_error(tmp_path: Path, text: str) -> None:
    """An automation that is not a shadow still needs at least one trigger."""
    [issue] = check(tmp_path, lonely=text)
    assert issue.endswith("on: at least one trigger is needed")
