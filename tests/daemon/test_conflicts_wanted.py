"""The daemon merges bases into factory PRs only while an automation takes the conflicts."""

from __future__ import annotations

import shutil
from pathlib import Path

from factory.config.loader import load_factory
from factory.daemon.conflicts import conflict_text, wanted_by
from factory.events import Event
from tests.daemon.conftest import ROOT


def _automations(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "automations"
    folder.mkdir()
    for name in names:
        shutil.copy(ROOT / "automations" / f"{name}.yaml", folder)
    return folder


def test_shipped_shepherd_takes_merge_conflicts(tmp_path: Path) -> None:
    """The shipped pr-shepherd names the merge_conflict trigger, so the daemon merges."""
    config = load_factory(_automations(tmp_path, "pr-shepherd", "builder"), ROOT / "harness")
    assert wanted_by(config) == {"pr-shepherd"}


def test_without_the_shepherd_nothing_takes_conflicts(tmp_path: Path) -> None:
    """Without an automation on merge_conflict the daemon merges into no PR."""
    config = load_factory(_automations(tmp_path, "builder"), ROOT / "harness")
    assert wanted_by(config) == set()


def test_conflict_text_lists_the_files() -> None:
    """A conflict event's first message names each conflicted file on its own line."""
    event = Event(
        source="github",
        kind="pull_request.merge_conflict",
        dedup_key="k",
        payload={"_factory": {"merge_conflict": {"base_ref": "main", "files": ["a.py", "b/c"]}}},
    )
    text = conflict_text(event) or ""
    assert text.split("may change:\n", 1)[1].split("\nResolve", 1)[0] == "- a.py\n- b/c"


def test_other_events_get_no_conflict_text() -> None:
    """An event that is not a conflict event adds nothing to the first message."""
    assert conflict_text(Event(source="github", kind="push", dedup_key="k")) is None
