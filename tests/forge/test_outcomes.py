"""Fates of the factory's outputs, decided from stored GitHub events (recorded payloads)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from factory.forge.normalize import normalize
from factory.forge.outcomes import OutcomeRecorder
from factory.store import RunStore

DATA = Path(__file__).resolve().parents[1] / "data" / "github-webhooks"
BOT = "factory-bot"
FACTORY_SHA = "f" * 40
PR, ISSUE, REVIEW_ID = 2, 7, 237895671


def payload(name: str, **changes: Any) -> dict[str, Any]:
    """Return a recorded webhook payload with top-level ``changes`` applied."""
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    data.update(changes)
    return data


def pull(name: str = "pull_request.closed.3.json", **fields: Any) -> dict[str, Any]:
    """Return a recorded pull_request payload about PR ``PR`` with ``fields`` set on the PR."""
    data = payload(name)
    pr = copy.deepcopy(data["pull_request"])
    pr.update({"number": PR, **fields})
    data.update(number=pr["number"], pull_request=pr)
    return data


def merged(head: str = FACTORY_SHA, **fields: Any) -> dict[str, Any]:
    """Return the recorded closed payload as a merge of PR ``PR`` with head ``head``."""
    data = pull(merged=True, merged_at="2019-05-15T15:21:18Z", **fields)
    data["pull_request"]["head"] = {**data["pull_request"]["head"], "sha": head}
    return data


class World:
    """A store with one builder run that opened PR 2, filed issue 7 and reviewed PR 2."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.recorder = OutcomeRecorder(store)
        self.run_id = store.create_run("builder", content_hash="v1")
        self.pr_output = self.output(
            "open_pull_request", None, {"number": PR, "head_sha": FACTORY_SHA}
        )
        self.issue_output = self.output("create_issue", None, {"number": ISSUE})
        self.review_output = self.output("review_pull_request", PR, {"review_id": REVIEW_ID})
        self.deliveries = 0

    def output(self, kind: str, target: int | None, result: dict[str, Any]) -> int:
        """Record an applied output of the run; return its id."""
        key = f"{self.run_id}:{kind}:{target}"
        output_id, _ = self.store.record_output_intent(
            self.run_id, kind, key, {"target": target, "payload": {}}
        )
        self.store.mark_output(output_id, "applied", result, "https://github.com/x")
        return output_id

    def deliver(self, event_name: str, data: dict[str, Any], sender: str = "mara") -> bool:
        """Store the delivery as the webhook route does and let the recorder absorb it."""
        self.deliveries += 1
        data = {**data, "sender": {**data.get("sender", {}), "login": sender}}
        event = normalize(event_name, data, f"d-{self.deliveries}", bot_logins=[BOT])
        event_id, _ = self.store.add_event(event)
        return self.recorder.absorb(self.store.get_event(event_id))

    def fates(self, output_id: int) -> list[str]:
        """Return the fates recorded for ``output_id``, oldest first."""
        return [o.fate for o in self.store.outcomes_of_output(output_id)]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A fresh store holding the builder run and its three outputs."""
    with RunStore.open(tmp_path / "factory.db") as store:
        yield World(store)


def test_merge_of_the_factory_head_is_zero_touch(world: World) -> None:
    """A factory PR merged at the commit the factory pushed, with no human review, is zero-touch."""
    world.deliver("pull_request", merged())
    assert world.fates(world.pr_output) == ["merged_zero_touch"]


def test_merge_of_another_head_is_after_human_changes(world: World) -> None:
    """A factory PR merged at a commit the factory did not push was changed by a person."""
    world.deliver("pull_request", merged(head="a" * 40))
    assert world.fates(world.pr_output) == ["merged_after_human_changes"]


def test_human_review_makes_the_merge_human_changed(world: World) -> None:
    """A person's review on the PR before its merge makes the merge one after human changes."""
    world.deliver("pull_request_review", pull("pull_request_review.submitted.0.json"))
    world.deliver("pull_request", merged())
    assert world.fates(world.pr_output) == ["merged_after_human_changes"]


def test_factory_review_keeps_the_merge_zero_touch(world: World) -> None:
    """The factory's own review on its PR does not count as a human touch."""
    world.deliver("pull_request_review", pull("pull_request_review.submitted.0.json"), BOT)
    world.deliver("pull_request", merged())
    assert world.fates(world.pr_output) == ["merged_zero_touch"]


def test_person_push_counts_when_the_factory_sha_is_unknown(world: World) -> None:
    """Without a recorded factory sha, a person's synchronize on the PR is a human commit."""
    old = world.output("open_pull_request", None, {"number": 5})
    world.deliver("pull_request", pull("pull_request.synchronize.22.json", number=5))
    data = merged()
    data["pull_request"]["number"] = 5
    world.deliver("pull_request", data)
    assert world.fates(old) == ["merged_after_human_changes"]


def test_closed_without_merge_is_closed_unmerged(world: World) -> None:
    """A factory PR closed without merging is closed_unmerged."""
    world.deliver("pull_request", pull())
    assert world.fates(world.pr_output) == ["closed_unmerged"]


def test_pull_request_not_made_by_the_factory_gets_no_outcome(world: World) -> None:
    """A merged PR no output opened records nothing."""
    data = merged()
    data["pull_request"]["number"] = 99
    world.deliver("pull_request", data)
    assert world.store.outcomes_of_subject("pull_request:99") == []


def _revert(**fields: Any) -> dict[str, Any]:
    data = merged(head="b" * 40, **fields)
    data["pull_request"]["number"] = 40
    data["number"] = 40
    return data


@pytest.mark.parametrize(
    "fields",
    [
        {"title": 'Revert "x"', "body": "Reverts Codertocat/Hello-World#2"},
        {"title": "Undo", "body": "This reverts commit c4295bd74fb0f4fda03689c3df3f2803b658fd85."},
        {"title": 'Revert "Update the README with new information."', "body": ""},
    ],
    ids=["reverts-ref", "reverts-commit", "title"],
)
def test_merged_revert_pull_request_reverts_the_factory_merge(
    world: World, fields: dict[str, Any]
) -> None:
    """A merged revert PR naming the factory PR, its merge commit or its title reverts it."""
    world.deliver("pull_request", merged())
    world.deliver("pull_request", _revert(**fields))
    assert world.fates(world.pr_output) == ["merged_zero_touch", "reverted"]


def test_unmerged_revert_pull_request_reverts_nothing(world: World) -> None:
    """A revert PR closed without merging leaves the factory merge standing."""
    world.deliver("pull_request", merged())
    data = _revert(body="Reverts Codertocat/Hello-World#2")
    data["pull_request"]["merged"] = False
    world.deliver("pull_request", data)
    assert world.fates(world.pr_output) == ["merged_zero_touch"]


def test_pushed_revert_commit_reverts_the_factory_merge(world: World) -> None:
    """A revert commit pushed straight to the branch reverts the merge it names."""
    world.deliver("pull_request", merged())
    data = payload("push.0.json")
    message = "Revert the fix\n\nThis reverts commit c4295bd74fb0f4f."
    commit = {"id": "1" * 40, "message": message, "timestamp": "2019-05-16T09:00:00Z"}
    data["commits"] = [{**data["head_commit"], **commit}]
    world.deliver("push", data)
    assert world.fates(world.pr_output) == ["merged_zero_touch", "reverted"]


def _issue(action: str, **fields: Any) -> dict[str, Any]:
    data = payload("issues.opened.15.json", action=action)
    data["issue"] = {**data["issue"], "number": ISSUE, **fields}
    return data


@pytest.mark.parametrize(
    ("reason", "fate"),
    [
        ("completed", "issue_completed"),
        (None, "issue_completed"),
        ("not_planned", "issue_not_planned"),
        ("duplicate", "issue_not_planned"),
    ],
)
def test_closed_factory_issue_fate_follows_state_reason(
    world: World, reason: str | None, fate: str
) -> None:
    """A factory-filed issue closed as completed / not planned gets that fate."""
    world.deliver("issues", _issue("closed", state="closed", state_reason=reason))
    assert world.fates(world.issue_output) == [fate]


def test_reopened_factory_issue_is_reopened_after_its_close(world: World) -> None:
    """Closing, reopening and closing again records each transition, in order."""
    for action, day in (("closed", 1), ("reopened", 2), ("closed", 3)):
        at = f"2026-01-0{day}T00:00:00Z"
        world.deliver("issues", _issue(action, state_reason=None, closed_at=at, updated_at=at))
    assert world.fates(world.issue_output) == [
        "issue_completed",
        "issue_reopened",
        "issue_completed",
    ]


def test_push_after_factory_review_follows_it(world: World) -> None:
    """A push to the PR after the factory's review marks the review followed, once."""
    world.deliver("pull_request", pull("pull_request.synchronize.22.json"))
    world.deliver("pull_request", pull("pull_request.synchronize.22.json", title="again"))
    assert world.fates(world.review_output) == ["review_followed"]


def test_dismissed_factory_review_is_dismissed(world: World) -> None:
    """GitHub's review dismissal of the factory's review records review_dismissed."""
    world.deliver("pull_request_review", pull("pull_request_review.dismissed.1.json"))
    assert world.fates(world.review_output) == ["review_dismissed"]


def test_dismissal_of_another_review_is_ignored(world: World) -> None:
    """Dismissing someone else's review leaves the factory's review undecided."""
    data = pull("pull_request_review.dismissed.1.json")
    data["review"] = {**data["review"], "id": 1}
    world.deliver("pull_request_review", data)
    assert world.fates(world.review_output) == []


def test_same_event_absorbed_twice_records_one_outcome(world: World) -> None:
    """Absorbing one stored event again (a crash before it was marked) adds no row."""
    world.deliver("pull_request", merged())
    [record] = world.store.subject_events(f"pull_request:{PR}", ["pull_request.closed"])
    world.recorder.absorb(record)
    assert world.fates(world.pr_output) == ["merged_zero_touch"]


def test_absorb_never_stands_in_for_a_run(world: World) -> None:
    """The recorder answers False even for an event it decided a fate from."""
    assert world.deliver("pull_request", merged()) is False


def test_outcome_carries_the_run_version_and_time_to_outcome(world: World) -> None:
    """The row names the run, automation and prompt version the output came from."""
    world.deliver("pull_request", merged())
    [row] = world.store.outcomes_of_output(world.pr_output)
    assert (row.run_id, row.automation, row.content_hash, row.subject_key, row.kind) == (
        world.run_id,
        "builder",
        "v1",
        f"pull_request:{PR}",
        "pull_request",
    )


def test_close_without_merge_state_decides_nothing(world: World) -> None:
    """A poller-shaped close (no ``merged`` field) is not taken for a close without merge."""
    data = pull()
    del data["pull_request"]["merged"]
    world.deliver("pull_request", data)
    assert world.fates(world.pr_output) == []
