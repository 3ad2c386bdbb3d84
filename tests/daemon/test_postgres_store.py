"""``factoryd start`` with FACTORY_DATABASE_URL on PostgreSQL: one labeled issue, one PR."""

from __future__ import annotations

import pytest

from factory.store import RunStore
from factory.testing.processes import DaemonProcess
from factory.testing.sample import MAINTAINER, READY, REPO
from tests.daemon.conftest import ROOT, Factory, daemon_env, wait_for

pytestmark = pytest.mark.postgres


def test_daemon_on_postgres_runs_a_labeled_issue_to_a_pull_request(
    factory: Factory, postgres_url: str
) -> None:
    """The daemon process stores its run in PostgreSQL (not SQLite) and opens one PR."""
    settings = factory.settings
    for other in settings.automations_dir.glob("*.yaml"):
        if other.name != "builder.yaml":
            other.unlink()
    env = daemon_env(settings, FACTORY_POLL_INTERVAL="0.3", FACTORY_DATABASE_URL=postgres_url)
    daemon = DaemonProcess(env, ROOT)
    daemon.wait_started()
    try:
        factory.github.add_labels(REPO, factory.world.bug, READY, as_user=MAINTAINER)

        def finished() -> list[str]:
            with RunStore.open(postgres_url, readonly=True) as store:
                return [r.status for r in store.list_runs() if r.finished]

        statuses = wait_for(finished, timeout_s=60, what="the builder run to finish on PostgreSQL")
    finally:
        daemon.stop()
    pulls = factory.github.repo(REPO).pulls.values()
    assert (statuses, len(pulls), settings.db_path.exists()) == (["succeeded"], 1, False)
