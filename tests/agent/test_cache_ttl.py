"""The session's prefix uses the 1-hour cache when a command may outlast the 5-minute one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from factory.agent.prompt import build_request
from factory.cacherules import prefix_ttl
from factory.config.loader import load_factory
from factory.daemon.runsetup import longest_gap_s, session_config

ROOT = Path(__file__).resolve().parents[2]

AUTOMATION = """\
name: worker
on:
  - manual: {{}}
model: claude-sonnet-5
workspace: {workspace}
sandbox: {{command_timeout: {timeout}}}
outputs:
  comment: {{}}
prompt: Work.
"""


def _automation(tmp_path: Path, workspace: str, timeout: str) -> object:
    folder = tmp_path / "automations"
    folder.mkdir()
    (folder / "worker.yaml").write_text(AUTOMATION.format(workspace=workspace, timeout=timeout))
    harness = Path(shutil.copytree(ROOT / "harness", tmp_path / "harness"))
    return load_factory(folder, harness).automations["worker"]


@pytest.mark.parametrize(
    ("gap_s", "ttl"),
    [(0.0, None), (120.0, None), (300.0, None), (300.5, "1h"), (600.0, "1h"), (3600.0, "1h")],
)
def test_prefix_ttl_is_one_hour_only_past_five_minutes(gap_s: float, ttl: str | None) -> None:
    """A gap up to 5 minutes keeps the default TTL; anything longer asks for 1h."""
    assert prefix_ttl(gap_s) == ttl


def test_ten_minute_command_timeout_gives_a_one_hour_prefix(tmp_path: Path) -> None:
    """An automation whose commands may run 10 minutes gets prefix_ttl "1h"."""
    automation = _automation(tmp_path, "default-branch", "10m")
    assert session_config(automation).prefix_ttl == "1h"  # type: ignore[arg-type]


def test_two_minute_command_timeout_keeps_the_default_ttl(tmp_path: Path) -> None:
    """Commands capped at 2 minutes never outlast the 5-minute cache: no ttl is set."""
    automation = _automation(tmp_path, "default-branch", "2m")
    assert session_config(automation).prefix_ttl is None  # type: ignore[arg-type]


def test_automation_without_workspace_runs_no_commands(tmp_path: Path) -> None:
    """workspace: none means no commands, so its command timeout does not count."""
    automation = _automation(tmp_path, "none", "10m")
    assert longest_gap_s(automation) == 0.0  # type: ignore[arg-type]


def test_shipped_builder_uses_the_one_hour_prefix() -> None:
    """The shipped builder (command_timeout 10m) caches its prefix for an hour."""
    config = load_factory(ROOT / "automations", ROOT / "harness")
    assert session_config(config.automations["builder"]).prefix_ttl == "1h"


def test_one_hour_prefix_comes_before_the_five_minute_breakpoints() -> None:
    """In the request the 1h breakpoint (system) precedes every 5m one, as the API requires."""
    request = build_request(
        model="m",
        max_tokens=10,
        tools=[],
        system_blocks=["a", "b"],
        context_text="ctx",
        conversation=[
            {"role": "assistant", "content": "x"},
            {"role": "user", "content": "y"},
        ],
        prefix_ttl="1h",
    )
    marks = [b["cache_control"].get("ttl", "5m") for b in request["system"] if "cache_control" in b]
    marks += [
        b["cache_control"].get("ttl", "5m")
        for m in request["messages"]
        for b in m["content"]
        if isinstance(b, dict) and "cache_control" in b
    ]
    assert marks == ["1h", "5m", "5m"]
