"""A github trigger's conclusion, review_state and head_branch filters, on recorded payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from factory.config.loader import load_factory
from factory.config.triggers import GithubTrigger
from factory.daemon.trust_gate import github_matches
from factory.events import Event

HOOKS = Path(__file__).resolve().parents[1] / "data" / "github-webhooks"


def _payload(name: str, **changes: Any) -> dict[str, Any]:
    data = json.loads((HOOKS / name).read_text())
    payload: dict[str, Any] = data.get("payload", data)
    for path, value in changes.items():
        node = payload
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    return payload


SUITE = "check_suite.completed.1.json"
RUN = "check_run.completed.1.json"


@pytest.mark.parametrize(
    ("conclusion", "fires"),
    [pytest.param("failure", True, id="failure"), pytest.param("success", False, id="success")],
)
def test_suite_conclusion_filter(conclusion: str, fires: bool) -> None:
    """conclusion: [failure] fires on a failed suite only."""
    trigger = GithubTrigger(event="check_suite.completed", conclusion=["failure"])
    payload = _payload(SUITE, **{"check_suite.conclusion": conclusion})
    assert trigger.payload_fits(payload) is fires


@pytest.mark.parametrize(
    ("branch", "fires"),
    [
        pytest.param("factory/issue-1-abc", True, id="factory"),
        pytest.param("main", False, id="other"),
    ],
)
def test_suite_head_branch_filter(branch: str, fires: bool) -> None:
    """head_branch: factory/* matches the suite's head_branch glob."""
    trigger = GithubTrigger(event="check_suite.completed", head_branch="factory/*")
    assert trigger.payload_fits(_payload(SUITE, **{"check_suite.head_branch": branch})) is fires


def test_check_run_head_branch_is_its_suites() -> None:
    """A check run's head branch is read from the suite it carries."""
    trigger = GithubTrigger(event="check_run.completed", head_branch="factory/*")
    payload = _payload(RUN, **{"check_run.check_suite.head_branch": "factory/x"})
    assert trigger.payload_fits(payload) is True


def test_check_run_conclusion_filter_refuses_success() -> None:
    """conclusion on a check_run trigger reads the run's own conclusion."""
    trigger = GithubTrigger(event="check_run.completed", conclusion=["failure", "timed_out"])
    assert trigger.payload_fits(_payload(RUN, **{"check_run.conclusion": "success"})) is False


@pytest.mark.parametrize(
    ("state", "fires"),
    [
        pytest.param("changes_requested", True, id="changes-requested"),
        pytest.param("CHANGES_REQUESTED", True, id="upper-case"),
        pytest.param("approved", False, id="approved"),
    ],
)
def test_review_state_filter(state: str, fires: bool) -> None:
    """review_state matches the submitted review's state, case-insensitively."""
    trigger = GithubTrigger(event="pull_request_review.submitted", review_state="changes_requested")
    payload = {"review": {"state": state}, "pull_request": {"head": {"ref": "factory/a"}}}
    assert trigger.payload_fits(payload) is fires


def test_review_head_branch_is_the_pull_requests_head() -> None:
    """For a review, head_branch reads the pull request's head ref (a person's branch: no)."""
    trigger = GithubTrigger(event="pull_request_review.submitted", head_branch="factory/*")
    payload = {"review": {"state": "approved"}, "pull_request": {"head": {"ref": "mara/docs"}}}
    assert trigger.payload_fits(payload) is False


def test_no_filters_fit_everything() -> None:
    """A trigger without the new filters fits any payload, as before."""
    assert GithubTrigger(event="check_suite.completed").payload_fits({}) is True


def _shepherd_approval_trigger() -> GithubTrigger:
    """The shipped pr-shepherd's trigger on an approving review."""
    root = Path(__file__).resolve().parents[2]
    shepherd = load_factory(root / "automations", root / "harness").automations["pr-shepherd"]
    [trigger] = [
        t.github
        for t in shepherd.on
        if t.github is not None and t.github.review_state == "approved"
    ]
    return trigger


@pytest.mark.parametrize(
    ("tier_label", "fires"),
    [pytest.param("risk:low", True, id="low"), pytest.param("risk:medium", False, id="medium")],
)
def test_shepherd_merges_on_approval_only_in_the_auto_merge_tier(
    tier_label: str, fires: bool
) -> None:
    """An approval on a factory PR starts the shepherd only when the PR is in the low tier."""
    payload = _payload(
        "pull_request_review.submitted.0.json",
        **{
            "review.state": "approved",
            "pull_request.head.ref": "factory/issue-1-abc",
            "pull_request.labels": [{"name": tier_label}],
        },
    )
    event = Event(
        source="github",
        kind="pull_request_review.submitted",
        dedup_key="d1",
        actor="alice",
        trust="maintainers",
        payload=payload,
    )
    assert github_matches(_shepherd_approval_trigger(), event) is fires
