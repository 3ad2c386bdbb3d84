"""The builder's schedule sweep: approval is confirmed from label history, not assumed."""

from __future__ import annotations

from factory.testing.sample import MAINTAINER, READY, REPO, label_world
from tests.daemon.conftest import Factory, run_daemon, wait_for


def test_sweep_builds_only_maintainer_approved_issues(factory: Factory) -> None:
    """A sweep picks up both ready issues; the outsider-labelled one is skipped by approval."""
    label_world(factory.github, factory.world)  # before the daemon: no label events reach it
    factory.github.add_labels(REPO, factory.world.plain, READY, "needs-human", as_user=MAINTAINER)
    running = run_daemon(factory, webhooks=False)
    try:
        builder = running.daemon.watcher.config.automations["builder"]
        sweep = next(i for i, t in enumerate(builder.on) if t.schedule is not None)
        running.daemon.schedules._tick(builder, sweep)
        runs = wait_for(
            lambda: (r := factory.runs("builder")) and all(x.finished for x in r) and r,
            what="the sweep's runs",
        )
    finally:
        running.stop()
    by_subject = {r.subject_key: r for r in runs}
    outsider = by_subject[f"issue:{factory.world.outsider_ready}"]
    assert (
        sorted(by_subject),
        by_subject[f"issue:{factory.world.bug}"].status,
        outsider.status,
        (outsider.stop_reason or "").startswith("approval: 'factory:ready'"),
    ) == (
        sorted([f"issue:{factory.world.bug}", f"issue:{factory.world.outsider_ready}"]),
        "succeeded",
        "skipped",
        True,
    )
