"""Hot reload: a valid edit changes the next run's prompt; an invalid one keeps the last good."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from factory.testing.sample import MAINTAINER, READY, REPO
from tests.daemon.conftest import Factory, run_daemon, wait_for


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    # A different size guarantees the change is seen even within one mtime tick.
    path.write_text(text.replace(old, new, 1))


def test_prompt_edit_changes_next_runs_snapshot(factory: Factory) -> None:
    """After editing the builder's prompt, the next run records the new prompt and hash."""
    running = run_daemon(factory)
    try:
        old_hash = running.daemon.watcher.config.automations["builder"].content_hash
        _edit(
            factory.settings.automations_dir / "builder.yaml",
            "Work in this order:",
            "Prompt version two. Work in this order:",
        )
        new_hash = wait_for(
            lambda: (
                (h := running.daemon.watcher.config.automations["builder"].content_hash) != old_hash
                and h
            ),
            timeout_s=15,
            what="the reload",
        )
        factory.github.add_labels(REPO, factory.world.bug, READY, as_user=MAINTAINER)
        run = wait_for(
            lambda: next((r for r in factory.runs("builder") if r.finished), None),
            what="the builder run",
        )
    finally:
        running.stop()
    assert (run.content_hash, "Prompt version two." in run.prompt_snapshot) == (new_hash, True)


def test_invalid_edit_keeps_last_good_version_and_logs_position(factory: Factory) -> None:
    """A broken edit is logged as FILE:LINE:COL and runs keep using the last good version."""
    running = run_daemon(factory)
    path = factory.settings.automations_dir / "builder.yaml"
    try:
        good_hash = running.daemon.watcher.config.automations["builder"].content_hash
        with capture_logs() as logs:
            _edit(path, "concurrency: 2\n", "concurrency: 2\nconcurrenc: 3\n")
            wait_for(lambda: running.daemon.watcher.last_errors, timeout_s=15, what="the error")
        factory.github.add_labels(REPO, factory.world.bug, READY, as_user=MAINTAINER)
        run = wait_for(
            lambda: next((r for r in factory.runs("builder") if r.finished), None),
            what="the builder run",
        )
    finally:
        running.stop()
    line = path.read_text().splitlines().index("concurrenc: 3") + 1
    logged = [e["issue"] for e in logs if e["event"] == "config_invalid"]
    assert (run.content_hash, run.status) == (good_hash, "succeeded")
    assert any(issue.startswith(f"{path}:{line}:1: ") for issue in logged), logged


def test_removed_schedule_is_unscheduled(factory: Factory) -> None:
    """Deleting an automation's schedule trigger removes its job on reload."""
    running = run_daemon(factory)
    try:
        before = [j for j in running.daemon.schedules.next_fire_times() if j.startswith("builder#")]
        text = (factory.settings.automations_dir / "builder.yaml").read_text()
        start = text.index("  # Sweep:")
        end = text.index("subject: issue")
        (factory.settings.automations_dir / "builder.yaml").write_text(text[:start] + text[end:])
        wait_for(
            lambda: (
                not [
                    j
                    for j in running.daemon.schedules.next_fire_times()
                    if j.startswith("builder#")
                ]
            ),
            timeout_s=15,
            what="the job to go",
        )
    finally:
        running.stop()
    assert len(before) == 1
