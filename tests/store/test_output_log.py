"""Outputs: intent before acting, idempotency key unique, results recorded."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from factory.errors import RunNotFound, StoreError
from factory.store import RunStore


def test_first_intent_is_new(store: RunStore, make_run: Callable[..., str]) -> None:
    """Recording a new idempotency key returns no existing row."""
    _, existing = store.record_output_intent(make_run(), "comment", "run1:comment:1", {"b": "x"})
    assert existing is None


def test_same_key_returns_the_existing_output(
    store: RunStore, make_run: Callable[..., str]
) -> None:
    """A second intent with the same key returns the first id and its row."""
    run_id = make_run()
    first, _ = store.record_output_intent(run_id, "comment", "k", {"body": "x"})
    again, existing = store.record_output_intent(run_id, "comment", "k", {"body": "y"})
    assert (again, existing is not None and existing.request) == (first, {"body": "x"})


def test_intent_is_pending_until_marked(store: RunStore, make_run: Callable[..., str]) -> None:
    """An intent shows in pending_output_intents; once applied it does not."""
    run_id = make_run()
    done, _ = store.record_output_intent(run_id, "comment", "k1", {})
    pending, _ = store.record_output_intent(run_id, "add_labels", "k2", {})
    store.mark_output(done, "applied", {"id": 7}, "https://example.test/c/7")
    assert [o.id for o in store.pending_output_intents()] == [pending]


def test_mark_output_records_result_and_url(store: RunStore, make_run: Callable[..., str]) -> None:
    """mark_output stores the status, result and url."""
    run_id = make_run()
    output_id, _ = store.record_output_intent(run_id, "comment", "k1", {})
    store.mark_output(output_id, "applied", {"id": 7}, "https://example.test/c/7")
    [out] = store.outputs_for_run(run_id)
    assert (out.status, out.result, out.url) == ("applied", {"id": 7}, "https://example.test/c/7")


def test_mark_output_refuses_unknown_status(store: RunStore, make_run: Callable[..., str]) -> None:
    """mark_output with a status outside intent/applied/refused/failed raises ValueError."""
    output_id, _ = store.record_output_intent(make_run(), "comment", "k1", {})
    with pytest.raises(ValueError, match="done"):
        store.mark_output(output_id, "done")


def test_mark_unknown_output_raises(store: RunStore) -> None:
    """mark_output on a missing id raises StoreError naming it."""
    with pytest.raises(StoreError, match="output 5"):
        store.mark_output(5, "applied")


def test_intent_for_unknown_run_raises(store: RunStore) -> None:
    """record_output_intent for a missing run raises RunNotFound."""
    with pytest.raises(RunNotFound, match="ghost"):
        store.record_output_intent("ghost", "comment", "k", {})
