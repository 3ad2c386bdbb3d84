"""The output gate against FakeGitHub with real PyGithub and a real RunStore: checks and writes."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from github import Auth, Github

from factory.config.outputs_config import Outputs
from factory.forge.markers import parse_markers
from factory.forge.output_requests import RunContext
from factory.forge.outputs import OutputGate
from factory.logs import REDACTED
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub

BOT, BOT_TOKEN = "factory-bot", "t-factory-bot"
_names = itertools.count(1)
MakeCtx = Callable[..., RunContext]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGitHub]:
    """One FakeGitHub per module, with the bot (write) and alice (admin)."""
    with FakeGitHub() as server:
        server.add_user(BOT, token=BOT_TOKEN, permission="write")
        server.add_user("alice", token="t-alice", permission="admin")
        yield server


@pytest.fixture
def repo_name(fake: FakeGitHub) -> str:
    """A fresh repo whose issue #1 was opened by alice."""
    name = f"acme/widgets-{next(_names)}"
    fake.create_repo(name)
    fake.create_issue(name, "Widgets are broken", "It breaks.", as_user="alice")
    return name


@pytest.fixture
def make_ctx(fake: FakeGitHub, repo_name: str, store: RunStore) -> MakeCtx:
    """Return ``make(outputs, subject=1, **fields)``: a new run's context, as the bot."""
    gh = Github(
        base_url=fake.api_url,
        auth=Auth.Token(BOT_TOKEN),
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    repo = gh.get_repo(repo_name)

    def make(outputs: dict[str, Any], subject: int | None = 1, **fields: Any) -> RunContext:
        run_id = store.create_run("builder")
        spec = Outputs.model_validate(outputs)
        return RunContext(run_id, "builder", spec, subject, repo, store, **fields)

    return make


@pytest.fixture
def gate() -> OutputGate:
    """The gate with the built-in performers."""
    return OutputGate()


def comments_on(fake: FakeGitHub, repo: str, number: int = 1) -> list[str]:
    """Return the bodies of the comments on ``number``."""
    return [c.body for c in fake.issue(repo, number).comments]


# -- refusals ------------------------------------------------------------------------


def test_kind_not_in_outputs_is_refused(gate: OutputGate, make_ctx: MakeCtx) -> None:
    """A kind the automation does not list is refused with that reason."""
    decision = gate.request(make_ctx({"comment": {}}), "create_issue", {"title": "x"})
    assert (decision.status, decision.reason) == (
        "refused",
        "create_issue: not allowed for automation 'builder'",
    )


def test_refused_request_writes_nothing_to_github(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """A refused create_issue leaves the repo with its one issue."""
    gate.request(make_ctx({"comment": {}}), "create_issue", {"title": "x"})
    assert list(fake.repo(repo_name).issues) == [1]


def test_refusal_is_recorded_with_its_reason(
    gate: OutputGate, make_ctx: MakeCtx, store: RunStore
) -> None:
    """A refusal is an outputs row with status refused and the reason."""
    ctx = make_ctx({"comment": {}})
    gate.request(ctx, "merge_pull_request", {})
    [row] = store.outputs_for_run(ctx.run_id)
    assert (row.status, row.result) == (
        "refused",
        {"reason": "merge_pull_request: not allowed for automation 'builder'"},
    )


def test_refused_request_is_stored_without_secrets(
    gate: OutputGate, make_ctx: MakeCtx, store: RunStore
) -> None:
    """A refused request is recorded as asked, but with the run's canary redacted."""
    ctx = make_ctx({}, secrets=("canary-0ddba11",))
    gate.request(ctx, "comment", {"body": "canary-0ddba11"})
    [row] = store.outputs_for_run(ctx.run_id)
    assert row.request == {"body": REDACTED}


def test_quota_counts_performed_outputs(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """A second comment when max is 1 is refused; only the first is posted."""
    ctx = make_ctx({"comment": {"max": 1}})
    gate.request(ctx, "comment", {"body": "first"})
    decision = gate.request(ctx, "comment", {"body": "second"})
    assert (decision.reason, len(comments_on(fake, repo_name))) == (
        "comment: quota reached (1 of 1 for this run)",
        1,
    )


def test_quota_counts_pending_intents(gate: OutputGate, make_ctx: MakeCtx, store: RunStore) -> None:
    """An intent left pending (maybe performed before a crash) uses up the quota."""
    ctx = make_ctx({"comment": {"max": 1}})
    store.record_output_intent(ctx.run_id, "comment", f"{ctx.run_id}:comment:1:abc", {})
    assert gate.request(ctx, "comment", {"body": "hi"}).status == "refused"


def test_quota_holds_across_attempts_of_one_run(gate: OutputGate, make_ctx: MakeCtx) -> None:
    """A retry (same key scope) that words its comment anew cannot exceed the quota."""
    first = make_ctx({"comment": {"max": 1}}, key_scope="e9-builder")
    gate.request(first, "comment", {"body": "one"})
    retry = make_ctx({"comment": {"max": 1}}, key_scope="e9-builder")
    assert gate.request(retry, "comment", {"body": "two, said differently"}).status == "refused"


def test_quota_is_per_run(gate: OutputGate, make_ctx: MakeCtx) -> None:
    """Another run of the same automation has its own quota."""
    gate.request(make_ctx({"comment": {"max": 1}}), "comment", {"body": "one"})
    assert gate.request(make_ctx({"comment": {"max": 1}}), "comment", {"body": "two"}).ok


def test_label_outside_allowlist_is_refused(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """add_labels with a label not in ``allowed`` is refused and adds nothing."""
    ctx = make_ctx({"add_labels": {"allowed": ["needs-human"]}})
    decision = gate.request(ctx, "add_labels", {"labels": ["needs-human", "release"]})
    assert (decision.reason, fake.labels_of(repo_name, 1)) == (
        "add_labels: label(s) 'release' are not allowed (allowed: 'needs-human')",
        [],
    )


def test_new_issue_label_outside_allowlist_is_refused(gate: OutputGate, make_ctx: MakeCtx) -> None:
    """create_issue may only use labels from its config or the add_labels allowlist."""
    ctx = make_ctx({"create_issue": {"labels": ["factory:triage"]}})
    decision = gate.request(ctx, "create_issue", {"title": "t", "labels": ["security"]})
    assert decision.reason == (
        "create_issue: label(s) 'security' are not allowed (allowed: 'factory:triage')"
    )


def test_comment_on_another_issue_is_refused(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """A comment aimed at an issue other than the run's subject is refused."""
    fake.create_issue(repo_name, "other", as_user="alice")
    decision = gate.request(make_ctx({"comment": {}}), "comment", {"body": "hi", "number": 2})
    assert (decision.reason, comments_on(fake, repo_name, 2)) == (
        "comment: #2 is not this run's subject (#1); comments go to the subject",
        [],
    )


def test_comment_on_an_allowed_other_target_is_posted(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """A number listed in the context's other_targets may be commented on."""
    fake.create_issue(repo_name, "other", as_user="alice")
    ctx = make_ctx({"comment": {}}, other_targets=frozenset({2}))
    assert gate.request(ctx, "comment", {"body": "hi", "number": 2}).ok


def test_comment_on_an_issue_the_run_created_is_posted(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """A run may comment on an issue it created itself."""
    ctx = make_ctx({"comment": {}, "create_issue": {}})
    gate.request(ctx, "create_issue", {"title": "follow-up"})
    gate.request(ctx, "comment", {"body": "more detail", "number": 2})
    assert [parse_markers(b)[0].run_id for b in comments_on(fake, repo_name, 2)] == [ctx.run_id]


def test_comment_without_subject_is_refused(gate: OutputGate, make_ctx: MakeCtx) -> None:
    """A run with no subject cannot comment without a target."""
    ctx = make_ctx({"comment": {}}, subject=None)
    assert gate.request(ctx, "comment", {"body": "hi"}).reason == (
        f"comment: run {ctx.run_id} has no subject to act on"
    )


def test_close_reason_not_allowed_is_refused(gate: OutputGate, make_ctx: MakeCtx) -> None:
    """close_issue with a reason outside ``reasons`` is refused."""
    ctx = make_ctx({"close_issue": {"reasons": ["completed"]}})
    decision = gate.request(ctx, "close_issue", {"reason": "not_planned"})
    assert decision.reason == "close_issue: reason 'not_planned' is not allowed"


def test_review_verdict_not_allowed_is_refused(gate: OutputGate, make_ctx: MakeCtx) -> None:
    """An APPROVE review when only COMMENT is allowed is refused."""
    ctx = make_ctx({"review_pull_request": {}})
    decision = gate.request(ctx, "review_pull_request", {"event": "APPROVE"})
    assert (
        decision.reason
        == "review_pull_request: verdict 'APPROVE' is not allowed (allowed: COMMENT)"
    )


def test_invalid_request_is_refused_with_the_field(gate: OutputGate, make_ctx: MakeCtx) -> None:
    """A request missing a required field is refused naming the field."""
    decision = gate.request(make_ctx({"comment": {}}), "comment", {"text": "hi"})
    assert decision.reason == (
        "comment: invalid request: body: Field required; text: Extra inputs are not permitted"
    )


def test_kind_without_performer_is_refused(gate: OutputGate, make_ctx: MakeCtx) -> None:
    """open_pull_request is allowed but refused until the daemon adds its performer."""
    ctx = make_ctx({"open_pull_request": {}})
    decision = gate.request(ctx, "open_pull_request", {"title": "t"})
    assert decision.reason == "open_pull_request: this daemon cannot perform it yet"


# -- title prefix and sanitizing -------------------------------------------------------


def test_missing_title_prefix_is_added(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """A create_issue title without the configured prefix gets it, and the model is told."""
    ctx = make_ctx({"create_issue": {"title_prefix": "[factory]"}})
    decision = gate.request(ctx, "create_issue", {"title": "Flaky test"})
    assert (fake.issue(repo_name, 2).title, decision.notes) == (
        "[factory] Flaky test",
        ("the title prefix '[factory]' was added",),
    )


def test_present_title_prefix_is_not_doubled(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """A title that already starts with the prefix is kept as it is."""
    ctx = make_ctx({"create_issue": {"title_prefix": "[factory]"}})
    gate.request(ctx, "create_issue", {"title": "[factory] Flaky test"})
    assert fake.issue(repo_name, 2).title == "[factory] Flaky test"


def test_new_issue_gets_config_labels(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """A created issue carries the config's labels plus the allowed ones asked for."""
    ctx = make_ctx(
        {"create_issue": {"labels": ["factory:triage"]}, "add_labels": {"allowed": ["bug"]}}
    )
    gate.request(ctx, "create_issue", {"title": "t", "labels": ["bug"]})
    assert fake.labels_of(repo_name, 2) == ["factory:triage", "bug"]


def test_posted_comment_is_sanitized(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """Mentions are neutralized and a canary is redacted in the comment GitHub receives."""
    ctx = make_ctx({"comment": {}}, secrets=("canary-51c0ffee",))
    gate.request(ctx, "comment", {"body": "@alice the key is canary-51c0ffee"})
    [body] = comments_on(fake, repo_name)
    assert body.splitlines()[0] == f"@\u200balice the key is {REDACTED}"


def test_forged_marker_is_replaced_by_ours(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """A marker the agent wrote is stripped; the comment carries only the gate's marker."""
    ctx = make_ctx({"comment": {}})
    forged = "<!-- factoryd:v1 run=OTHER key=OTHER:comment:1:abc -->"
    gate.request(ctx, "comment", {"body": f"hello {forged}"})
    [body] = comments_on(fake, repo_name)
    assert [m.run_id for m in parse_markers(body)] == [ctx.run_id]


def test_oversized_body_is_truncated_not_refused(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """A 100k-character comment is posted cut to the cap, and the model is told."""
    decision = gate.request(make_ctx({"comment": {}}), "comment", {"body": "z" * 100_000})
    [body] = comments_on(fake, repo_name)
    assert (decision.notes, "40000 characters cut" in body, len(body) < 65_536) == (
        ("the body was truncated to 60000 characters",),
        True,
        True,
    )


# -- performing and idempotency ------------------------------------------------------------


def test_applied_output_is_recorded_with_its_url(
    gate: OutputGate, make_ctx: MakeCtx, store: RunStore
) -> None:
    """After the write the row is applied and carries the comment's URL."""
    ctx = make_ctx({"comment": {}})
    decision = gate.request(ctx, "comment", {"body": "hi"})
    [row] = store.outputs_for_run(ctx.run_id)
    assert (row.status, row.url) == ("applied", decision.url)


def test_repeated_request_writes_once(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """Asking twice for the same comment posts it once; the second answer is a duplicate."""
    ctx = make_ctx({"comment": {"max": 5}})
    first = gate.request(ctx, "comment", {"body": "same"})
    second = gate.request(ctx, "comment", {"body": "same"})
    assert (len(comments_on(fake, repo_name)), second.duplicate, second.url) == (
        1,
        True,
        first.url,
    )


def test_repeat_does_not_use_quota(gate: OutputGate, make_ctx: MakeCtx) -> None:
    """A repeated identical request is answered from its row even when the quota is full."""
    ctx = make_ctx({"comment": {"max": 1}})
    gate.request(ctx, "comment", {"body": "same"})
    assert gate.request(ctx, "comment", {"body": "same"}).status == "applied"


def test_reconcile_performs_an_intent_that_never_reached_github(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """An intent with no marked object on GitHub is performed by reconcile."""
    ctx = make_ctx({"comment": {}})
    stored = {"target": 1, "payload": {"body": "from before the crash"}}
    ctx.store.record_output_intent(ctx.run_id, "comment", f"{ctx.run_id}:comment:1:x", stored)
    [decision] = gate.reconcile(ctx)
    assert (decision.duplicate, len(comments_on(fake, repo_name))) == (False, 1)


def test_labels_are_added_and_removed(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """add_labels then remove_labels leaves only the label not removed."""
    allowed = {"allowed": ["needs-human", "factory:blocked"]}
    ctx = make_ctx({"add_labels": allowed, "remove_labels": allowed})
    gate.request(ctx, "add_labels", {"labels": ["needs-human", "factory:blocked"]})
    gate.request(ctx, "remove_labels", {"labels": ["factory:blocked"]})
    assert fake.labels_of(repo_name, 1) == ["needs-human"]


def test_close_issue_posts_comment_and_closes(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """close_issue with a comment comments, then closes with the reason."""
    ctx = make_ctx({"close_issue": {}})
    gate.request(ctx, "close_issue", {"reason": "not_planned", "comment": "Duplicate."})
    issue = fake.issue(repo_name, 1)
    assert (issue.state, issue.state_reason, len(issue.comments)) == ("closed", "not_planned", 1)


def test_github_error_is_a_failed_decision(
    gate: OutputGate, make_ctx: MakeCtx, store: RunStore
) -> None:
    """A review of an issue that is not a pull request fails with GitHub's status."""
    ctx = make_ctx({"review_pull_request": {}})
    decision = gate.request(ctx, "review_pull_request", {"event": "COMMENT", "body": "ok"})
    [row] = store.outputs_for_run(ctx.run_id)
    assert (decision.status, decision.reason.startswith("HTTP 404"), row.status) == (
        "failed",
        True,
        "failed",
    )


def test_retry_attempt_with_same_key_scope_writes_nothing_twice(
    gate: OutputGate, make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """A second attempt (new run id, same key scope) asking the same comment gets the first one."""
    first = gate.request(
        make_ctx({"comment": {}}, key_scope="ev7:builder"), "comment", {"body": "Done."}
    )
    second = gate.request(
        make_ctx({"comment": {}}, key_scope="ev7:builder"), "comment", {"body": "Done."}
    )
    assert (second.duplicate, second.url, len(comments_on(fake, repo_name))) == (True, first.url, 1)
