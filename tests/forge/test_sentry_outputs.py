"""sentry_update through the output gate, against FakeSentry with the factory's SentryClient."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from github.Repository import Repository
from pydantic import ValidationError

from factory.config.automation import AutomationSpec
from factory.forge.markers import strip_markers
from factory.forge.output_requests import RunContext
from factory.forge.outputs import OutputGate
from factory.sentry.client import SentryClient
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_sentry import FakeSentry
from tests.forge.sentry_helpers import (
    Crash,
    add_accounts,
    crash,
    make_context,
    new_repo,
    sentry_client,
)

ALL = {"sentry_update": {"max": 3, "allowed": ["comment", "resolve", "resolve_in_next_release"]}}
MakeCtx = Callable[..., RunContext]


@pytest.fixture(scope="module")
def sentry() -> Iterator[FakeSentry]:
    """One FakeSentry per module."""
    with FakeSentry() as server:
        yield server


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    """One FakeGitHub per module with the bot and mallory."""
    with FakeGitHub() as server:
        add_accounts(server)
        yield server


@pytest.fixture
def repo(github: FakeGitHub) -> Repository:
    """A fresh repository as the bot sees it."""
    return new_repo(github)


@pytest.fixture
def client(sentry: FakeSentry) -> Iterator[SentryClient]:
    """The factory's Sentry client."""
    made = sentry_client(sentry)
    yield made
    made.close()


@pytest.fixture
def issue_id(sentry: FakeSentry) -> str:
    """A fresh unresolved Sentry issue."""
    return sentry.add_issue()


@pytest.fixture
def make_ctx(store: RunStore, repo: Repository, client: SentryClient, issue_id: str) -> MakeCtx:
    """Return ``make(outputs=ALL, **fields)``: a run about the Sentry issue."""

    def make(outputs: dict[str, Any] = ALL, **kw: Any) -> RunContext:
        kw.setdefault("issue_id", issue_id)
        return make_context(store, repo, client, outputs=outputs, **kw)

    return make


def _visible(sentry: FakeSentry, issue_id: str) -> list[str]:
    return [strip_markers(t).rstrip() for t in sentry.issue_state(issue_id)["comments"]]


def _puts(sentry: FakeSentry, issue_id: str) -> int:
    return sum(1 for method, path, _ in sentry.calls if method == "PUT" and issue_id in path)


# -- config ------------------------------------------------------------------------------


def test_sentry_update_validates_with_its_actions() -> None:
    """An automation listing sentry_update with its allowed actions validates."""
    spec = AutomationSpec.model_validate(
        {"name": "x", "on": [{"manual": {}}], "prompt": "p", "outputs": ALL}
    )
    assert spec.outputs.kinds() == ["sentry_update"]


def test_sentry_update_allows_only_comment_by_default() -> None:
    """``sentry_update:`` with no settings allows the comment action alone."""
    spec = AutomationSpec.model_validate(
        {"name": "x", "on": [{"manual": {}}], "prompt": "p", "outputs": {"sentry_update": None}}
    )
    assert spec.outputs.sentry_update is not None
    assert spec.outputs.sentry_update.allowed == ["comment"]


def test_unknown_sentry_action_is_invalid() -> None:
    """An action Sentry updates do not have fails validation."""
    with pytest.raises(ValidationError):
        AutomationSpec.model_validate(
            {
                "name": "x",
                "on": [{"manual": {}}],
                "prompt": "p",
                "outputs": {"sentry_update": {"allowed": ["delete"]}},
            }
        )


# -- comment -------------------------------------------------------------------------------


def test_comment_is_posted_with_the_github_link(
    make_ctx: MakeCtx, sentry: FakeSentry, issue_id: str, repo: Repository
) -> None:
    """A comment lands on the run's Sentry issue, followed by a link to the run's issue."""
    ctx = make_ctx(from_subject=False, subject=7)
    OutputGate().request(ctx, "sentry_update", {"action": "comment", "text": "Fixed by #8."})
    assert _visible(sentry, issue_id) == [f"Fixed by #8.\n\nGitHub: {repo.html_url}/issues/7"]


def test_comment_links_the_issue_lineage_gives(
    make_ctx: MakeCtx, sentry: FakeSentry, issue_id: str, repo: Repository, store: RunStore
) -> None:
    """A run about the Sentry issue links the issue lineage says was filed for it."""
    store.add_link(f"sentry:{issue_id}", "issue:4")
    OutputGate().request(make_ctx(), "sentry_update", {"action": "comment", "text": "Seen."})
    assert _visible(sentry, issue_id) == [f"Seen.\n\nGitHub: {repo.html_url}/issues/4"]


def test_comment_links_the_issue_the_run_filed(
    make_ctx: MakeCtx, sentry: FakeSentry, issue_id: str, repo: Repository
) -> None:
    """After the run filed an issue, its comment links that issue."""
    ctx = make_ctx({**ALL, "create_issue": {}})
    filed = OutputGate().request(ctx, "create_issue", {"title": "Crash", "body": "b"})
    OutputGate().request(ctx, "sentry_update", {"action": "comment", "text": "Filed."})
    assert _visible(sentry, issue_id) == [f"Filed.\n\nGitHub: {filed.url}"]


def test_comment_without_any_github_issue_has_no_link(
    make_ctx: MakeCtx, sentry: FakeSentry, issue_id: str
) -> None:
    """A run with no GitHub issue at all posts the text alone."""
    OutputGate().request(make_ctx(), "sentry_update", {"action": "comment", "text": "Looking."})
    assert _visible(sentry, issue_id) == ["Looking."]


def test_comment_mentions_are_broken(make_ctx: MakeCtx, sentry: FakeSentry, issue_id: str) -> None:
    """An @mention in the text is broken by a zero-width space so nobody is notified."""
    OutputGate().request(make_ctx(), "sentry_update", {"action": "comment", "text": "@team look"})
    assert _visible(sentry, issue_id) == ["@\u200bteam look"]


def test_comment_secrets_are_redacted(make_ctx: MakeCtx, sentry: FakeSentry, issue_id: str) -> None:
    """A run secret in the text is posted as [redacted]."""
    ctx = make_ctx(secrets=("canary-s3cret-value",))
    OutputGate().request(ctx, "sentry_update", {"action": "comment", "text": "canary-s3cret-value"})
    assert _visible(sentry, issue_id) == ["[redacted]"]


def test_comment_carries_the_key_marker(
    make_ctx: MakeCtx, sentry: FakeSentry, issue_id: str, store: RunStore
) -> None:
    """The posted note ends with the hidden marker of the output's idempotency key."""
    ctx = make_ctx()
    decision = OutputGate().request(ctx, "sentry_update", {"action": "comment", "text": "x"})
    [row] = [r for r in store.outputs_for_run(ctx.run_id) if r.id == decision.output_id]
    [text] = sentry.issue_state(issue_id)["comments"]
    assert text.endswith(f"key={row.idempotency_key} -->")


def test_repeated_comment_posts_once(make_ctx: MakeCtx, sentry: FakeSentry, issue_id: str) -> None:
    """The same comment asked twice by one run is posted once; the second is a duplicate."""
    ctx, gate = make_ctx(), OutputGate()
    gate.request(ctx, "sentry_update", {"action": "comment", "text": "same"})
    second = gate.request(ctx, "sentry_update", {"action": "comment", "text": "same"})
    assert (second.duplicate, len(sentry.issue_state(issue_id)["comments"])) == (True, 1)


def test_comment_url_is_the_sentry_permalink(make_ctx: MakeCtx) -> None:
    """The decision's URL is the Sentry issue's permalink."""
    decision = OutputGate().request(make_ctx(), "sentry_update", {"action": "comment", "text": "x"})
    assert (decision.status, "/issues/" in (decision.url or "")) == ("applied", True)


def test_empty_comment_is_refused(make_ctx: MakeCtx) -> None:
    """A comment with only whitespace is refused."""
    decision = OutputGate().request(make_ctx(), "sentry_update", {"action": "comment", "text": " "})
    assert decision.reason == "sentry_update: a comment needs text"


# -- resolve -----------------------------------------------------------------------------------


def test_resolve_resolves_the_issue(make_ctx: MakeCtx, sentry: FakeSentry, issue_id: str) -> None:
    """action resolve leaves the Sentry issue resolved, not in a release."""
    OutputGate().request(make_ctx(), "sentry_update", {"action": "resolve"})
    state = sentry.issue_state(issue_id)
    assert (state["status"], state["statusDetails"]) == ("resolved", {})


def test_resolve_in_next_release_marks_it_so(
    make_ctx: MakeCtx, sentry: FakeSentry, issue_id: str
) -> None:
    """action resolve_in_next_release leaves the issue resolved in the next release."""
    OutputGate().request(make_ctx(), "sentry_update", {"action": "resolve_in_next_release"})
    state = sentry.issue_state(issue_id)
    assert (state["status"], state["statusDetails"]) == ("resolved", {"inNextRelease": True})


def test_resolve_is_refused_unless_allowed(
    make_ctx: MakeCtx, sentry: FakeSentry, issue_id: str
) -> None:
    """With the default actions (comment only) a resolve is refused and Sentry is untouched."""
    decision = OutputGate().request(
        make_ctx({"sentry_update": {}}), "sentry_update", {"action": "resolve"}
    )
    assert (decision.status, sentry.issue_state(issue_id)["status"]) == ("refused", "unresolved")


def test_comment_is_refused_unless_allowed(make_ctx: MakeCtx) -> None:
    """An automation allowing only resolve cannot comment."""
    outputs = {"sentry_update": {"allowed": ["resolve"]}}
    decision = OutputGate().request(
        make_ctx(outputs), "sentry_update", {"action": "comment", "text": "x"}
    )
    assert decision.reason == "sentry_update: action 'comment' is not allowed (allowed: 'resolve')"


def test_resolve_with_text_is_refused(make_ctx: MakeCtx) -> None:
    """A resolve carrying text is refused (the comment is its own request)."""
    decision = OutputGate().request(make_ctx(), "sentry_update", {"action": "resolve", "text": "x"})
    assert decision.status == "refused"


def test_repeated_resolve_puts_once(make_ctx: MakeCtx, sentry: FakeSentry, issue_id: str) -> None:
    """The same resolve asked twice by one run sends one PUT."""
    ctx, gate = make_ctx(), OutputGate()
    gate.request(ctx, "sentry_update", {"action": "resolve"})
    gate.request(ctx, "sentry_update", {"action": "resolve"})
    assert _puts(sentry, issue_id) == 1


# -- which issue, and when there is none -------------------------------------------------------


def test_run_without_a_sentry_issue_is_refused(make_ctx: MakeCtx) -> None:
    """A run that has no Sentry issue (none linked) cannot update one."""
    ctx = make_ctx(issue_id=None, from_subject=False, subject=3)
    decision = OutputGate().request(ctx, "sentry_update", {"action": "comment", "text": "x"})
    assert decision.reason == f"sentry_update: run {ctx.run_id} has no Sentry issue to update"


def test_run_without_sentry_client_is_refused(
    store: RunStore, repo: Repository, issue_id: str
) -> None:
    """A daemon without a Sentry token gives runs no Sentry side: the update is refused."""
    ctx = make_context(store, repo, None, issue_id, ALL)
    decision = OutputGate().request(ctx, "sentry_update", {"action": "resolve"})
    assert decision.status == "refused"


def test_request_cannot_name_another_issue(make_ctx: MakeCtx) -> None:
    """An issue id in the request is an unknown field: refused, nothing written."""
    decision = OutputGate().request(
        make_ctx(), "sentry_update", {"action": "resolve", "issue_id": "1"}
    )
    assert decision.status == "refused"


def test_not_configured_is_refused(make_ctx: MakeCtx) -> None:
    """An automation without sentry_update cannot ask for it."""
    decision = OutputGate().request(
        make_ctx({"comment": {}}), "sentry_update", {"action": "resolve"}
    )
    assert decision.reason == "sentry_update: not allowed for automation 'incident-responder'"


def test_sentry_refusal_is_a_failed_output(make_ctx: MakeCtx) -> None:
    """Sentry's 404 for an issue that no longer exists ends the output as failed."""
    decision = OutputGate().request(
        make_ctx(issue_id="999999"), "sentry_update", {"action": "resolve"}
    )
    assert (decision.status, "404" in decision.reason) == ("failed", True)


# -- after a crash ----------------------------------------------------------------------


def _crashed(
    sentry: FakeSentry,
    github: FakeGitHub,
    repo: Repository,
    store: RunStore,
    issue_id: str,
    payload: dict[str, Any],
) -> str:
    run_id = store.create_run("incident-responder", subject_key=f"sentry:{issue_id}")
    code = crash(
        sentry,
        github,
        repo.full_name,
        store,
        run_id,
        issue_id,
        Crash("sentry_update", payload, ALL),
    )
    assert code == 9
    return run_id


def test_comment_found_again_after_a_crash(
    sentry: FakeSentry,
    github: FakeGitHub,
    repo: Repository,
    store: RunStore,
    client: SentryClient,
    issue_id: str,
) -> None:
    """Killed after Sentry took the note, the restarted gate finds it: one note, no repost."""
    payload = {"action": "comment", "text": "Fixed by #3."}
    run_id = _crashed(sentry, github, repo, store, issue_id, payload)
    ctx = make_context(store, repo, client, issue_id, ALL, run_id=run_id)
    [decision] = OutputGate().reconcile(ctx)
    assert (decision.duplicate, len(sentry.issue_state(issue_id)["comments"])) == (True, 1)


def test_resolve_found_by_state_after_a_crash(
    sentry: FakeSentry,
    github: FakeGitHub,
    repo: Repository,
    store: RunStore,
    client: SentryClient,
    issue_id: str,
) -> None:
    """Killed after Sentry resolved the issue, the restarted gate finds it resolved: one PUT."""
    run_id = _crashed(sentry, github, repo, store, issue_id, {"action": "resolve"})
    ctx = make_context(store, repo, client, issue_id, ALL, run_id=run_id)
    [decision] = OutputGate().reconcile(ctx)
    assert (decision.duplicate, _puts(sentry, issue_id)) == (True, 1)


def test_unperformed_resolve_is_performed_on_reconcile(
    make_ctx: MakeCtx, sentry: FakeSentry, issue_id: str, store: RunStore
) -> None:
    """An intent the crash left before Sentry was called is performed, not taken as found."""
    ctx = make_ctx()
    store.record_output_intent(
        ctx.run_id,
        "sentry_update",
        f"{ctx.run_id}:sentry_update:repo:abc",
        {
            "target": None,
            "payload": {"issue_id": issue_id, "action": "resolve", "status": "resolved"},
        },
    )
    [decision] = OutputGate().reconcile(ctx)
    assert (decision.duplicate, sentry.issue_state(issue_id)["status"]) == (False, "resolved")


def test_unposted_comment_is_posted_on_reconcile(
    make_ctx: MakeCtx, sentry: FakeSentry, issue_id: str, store: RunStore
) -> None:
    """A comment intent whose note is not on Sentry is posted once on reconcile."""
    ctx = make_ctx()
    store.record_output_intent(
        ctx.run_id,
        "sentry_update",
        f"{ctx.run_id}:sentry_update:repo:def",
        {"target": None, "payload": {"issue_id": issue_id, "action": "comment", "text": "late"}},
    )
    [decision] = OutputGate().reconcile(ctx)
    assert (decision.duplicate, _visible(sentry, issue_id)) == (False, ["late"])
