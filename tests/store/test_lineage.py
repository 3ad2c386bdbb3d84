"""Lineage in the store: Slack thread ↔ issue ↔ pull request links, and follow-up rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.errors import StoreError
from factory.store import MIGRATIONS, RunStore

THREAD = "C1AAA/1712345678.000100"


def test_link_is_stored_once_per_pair(store: RunStore) -> None:
    """Linking the same two subjects twice keeps one link and says the second was old."""
    first = store.add_link(f"slack:{THREAD}", "issue:12", run_id=None)
    second = store.add_link(f"slack:{THREAD}", "issue:12")
    assert (first, second, len(store.links_from(f"slack:{THREAD}"))) == (True, False, 1)


def test_link_records_what_made_it(store: RunStore) -> None:
    """A link keeps the run and output that made it."""
    run_id = store.create_run("slack-intake", subject_key=f"slack:{THREAD}")
    store.add_link(f"slack:{THREAD}", "issue:12", run_id=run_id, output_id=7)
    [link] = store.links_to("issue:12")
    assert (link.run_id, link.output_id) == (run_id, 7)


def test_subject_cannot_link_to_itself(store: RunStore) -> None:
    """A link from a subject to itself is refused."""
    with pytest.raises(ValueError):
        store.add_link("issue:3", "issue:3")


def test_issue_finds_its_thread(store: RunStore) -> None:
    """An issue filed from a thread knows that thread."""
    store.add_link(f"slack:{THREAD}", "issue:12")
    assert store.slack_thread_of("issue:12") == THREAD


def test_pull_request_finds_the_thread_of_its_issue(store: RunStore) -> None:
    """A pull request closing a thread's issue finds the thread through the issue."""
    store.add_link(f"slack:{THREAD}", "issue:12")
    store.add_link("issue:12", "pull_request:15")
    assert store.slack_thread_of("pull_request:15") == THREAD


def test_unlinked_issue_has_no_thread(store: RunStore) -> None:
    """An issue no thread led to has no thread, even when another issue has one."""
    store.add_link(f"slack:{THREAD}", "issue:12")
    assert store.slack_thread_of("issue:13") is None


def test_pull_request_of_unlinked_issue_has_no_thread(store: RunStore) -> None:
    """A pull request whose issue came from no thread has no thread."""
    store.add_link("issue:13", "pull_request:15")
    assert store.slack_thread_of("pull_request:15") is None


def test_thread_finds_its_newest_issue(store: RunStore) -> None:
    """A thread that led to two issues answers the newer one."""
    store.add_link(f"slack:{THREAD}", "issue:12")
    store.add_link(f"slack:{THREAD}", "issue:20")
    assert store.issue_of_thread(THREAD) == 20


def test_thread_without_issue_has_none(store: RunStore) -> None:
    """A thread nothing was filed from has no issue."""
    store.add_link("slack:C1AAA/1712345678.000999", "issue:12")
    assert store.issue_of_thread(THREAD) is None


def test_pull_request_lists_its_issues(store: RunStore) -> None:
    """A pull request lists the issues linked to it, oldest link first."""
    store.add_link("issue:12", "pull_request:15")
    store.add_link("issue:9", "pull_request:15")
    assert store.issues_of_pull(15) == [12, 9]


def test_followup_key_is_recorded_once(store: RunStore) -> None:
    """Deciding the same follow-up twice makes one row, and the second call says so."""
    a = store.record_followup_intent("k1", "slack_update", THREAD, "issue:12", {"text": "x"})
    b = store.record_followup_intent("k1", "slack_update", THREAD, "issue:12", {"text": "y"})
    assert (a[0] == b[0], a[1], b[1], len(store.followups_of_thread(THREAD))) == (
        True,
        True,
        False,
        1,
    )


def test_applied_followup_is_not_pending(store: RunStore) -> None:
    """A follow-up marked applied leaves the pending list and keeps its url."""
    done, _ = store.record_followup_intent("k1", "slack_update", THREAD, "issue:12", {})
    store.record_followup_intent("k2", "slack_update", THREAD, "issue:12", {})
    store.mark_followup(done, "applied", url="https://slack.example/p1")
    pending = [r.key for r in store.pending_followups()]
    [row] = [r for r in store.followups_of_thread(THREAD) if r.id == done]
    assert (pending, row.url) == (["k2"], "https://slack.example/p1")


def test_mark_followup_rejects_unknown_status(store: RunStore) -> None:
    """A follow-up status outside intent/applied/failed is refused."""
    fid, _ = store.record_followup_intent("k1", "slack_update", THREAD, "issue:12", {})
    with pytest.raises(ValueError):
        store.mark_followup(fid, "refused")


def test_mark_followup_rejects_unknown_id(store: RunStore) -> None:
    """Marking a follow-up that does not exist raises StoreError."""
    with pytest.raises(StoreError):
        store.mark_followup(999, "applied")


def test_lineage_survives_reopening(db_path: Path) -> None:
    """Links are on disk: a store opened again finds them."""
    with RunStore.open(db_path) as s:
        s.add_link(f"slack:{THREAD}", "issue:12")
    with RunStore.open(db_path, readonly=True) as s:
        assert s.slack_thread_of("issue:12") == THREAD


def test_database_before_lineage_migrates_to_it(db_path: Path) -> None:
    """A store left at migration 004 gets the lineage tables when opened by this code."""
    RunStore.open(db_path, migrations=MIGRATIONS[:4]).close()
    with RunStore.open(db_path) as s:
        assert s.add_link(f"slack:{THREAD}", "issue:1") is True


def test_pull_request_finds_the_sentry_issue_of_its_issue(store: RunStore) -> None:
    """A pull request closing an issue filed from a Sentry issue finds that Sentry issue."""
    store.add_link("sentry:1170820242", "issue:12")
    store.add_link("issue:12", "pull_request:15")
    assert store.sentry_issue_of("pull_request:15") == "1170820242"


def test_thread_origin_is_not_a_sentry_origin(store: RunStore) -> None:
    """An issue from a Slack thread has no Sentry issue, and the other way round."""
    store.add_link(f"slack:{THREAD}", "issue:12")
    store.add_link("sentry:77", "issue:13")
    assert (store.sentry_issue_of("issue:12"), store.slack_thread_of("issue:13")) == (None, None)


def test_sentry_issue_lists_its_issues_oldest_first(store: RunStore) -> None:
    """Every GitHub issue filed for one Sentry issue is listed, oldest link first."""
    store.add_link("sentry:77", "issue:13")
    store.add_link("sentry:77", "issue:9")
    assert store.issues_from("sentry:77") == [13, 9]
