"""The agent is told which destinations its allowlist reaches (and that others are refused)."""

from __future__ import annotations

from pathlib import Path

from factory.config.automation import SandboxConfig
from factory.config.loader import load_factory
from factory.config.templating import EventContext, RepoContext, SubjectContext
from factory.daemon.runsetup import prompt_context, system_blocks

ROOT = Path(__file__).resolve().parents[2]


def test_allowlist_automation_is_told_its_destinations() -> None:
    """With network allowlist the sandbox note names the allow list, not "no network access"."""
    config = load_factory(ROOT / "automations", ROOT / "harness")
    builder = config.automations["builder"].model_copy(
        update={"sandbox": SandboxConfig(network="allowlist", allow=["pypi"])}
    )
    ctx = prompt_context(
        builder,
        run_id="r1",
        attempt=1,
        subject=SubjectContext(),
        event=EventContext(source="manual", kind="manual"),
        repo=RepoContext(full_name="acme/calculator"),
    )
    text = "\n".join(system_blocks(builder, config.harness, ctx, lambda path: None))
    assert (
        "network access only via the HTTP(S) proxy to ['pypi']" in text,
        "no network access" in text,
    ) == (
        True,
        False,
    )
