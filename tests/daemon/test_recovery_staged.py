"""Recovery of a staged automation's crash loop: given up in the store, nothing on GitHub."""

from __future__ import annotations

from factory.daemon.recovery import GIVEN_UP_STEP, MAX_ATTEMPTS_AFTER_INTERRUPT
from factory.testing.sample import REPO
from tests.daemon.conftest import Factory
from tests.daemon.test_recovery import _interrupted, _start_and_stop


def _stage_builder(factory: Factory) -> None:
    builder = factory.settings.automations_dir / "builder.yaml"
    builder.write_text(builder.read_text() + "staged: true\n")


def test_crash_looped_staged_run_writes_nothing_to_github(factory: Factory) -> None:
    """A staged builder run given up by the crash-loop guard labels and comments nothing."""
    _stage_builder(factory)
    before = factory.github.issue(REPO, factory.world.bug)
    labels, comments = list(before.labels), len(before.comments)
    _interrupted(factory, MAX_ATTEMPTS_AFTER_INTERRUPT)
    _start_and_stop(factory)
    after = factory.github.issue(REPO, factory.world.bug)
    assert (after.labels, len(after.comments)) == (labels, comments)


def test_crash_looped_staged_run_is_still_given_up(factory: Factory) -> None:
    """The staged run's give-up is recorded as its step (shown on no subject)."""
    _stage_builder(factory)
    run_id = _interrupted(factory, MAX_ATTEMPTS_AFTER_INTERRUPT)
    _start_and_stop(factory)
    with factory.store() as store:
        steps = [s.payload for s in store.steps(run_id) if s.kind == GIVEN_UP_STEP]
    assert [s["shown_on"] for s in steps] == [None]
