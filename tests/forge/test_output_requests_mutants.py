"""Tests that kill mutants `make mutants` found alive in factory/forge/output_requests.py.

``prepare`` is called directly with each request model, as the gate does after validation:
these pin the refusal messages the model is told, the prepared payloads, the notes, and the
idempotency key, which must stay stable across releases (reconcile finds writes by it).

Equivalent mutants (no observable difference):
- ``x__body__mutmut_15`` (``cap_text(clean, )``): cap_text's default limit is BODY_CAP.
- ``x__title__mutmut_15`` (``prefix.lstrip()``): sanitize_title splits on whitespace and
  joins with single spaces, so which side of the prefix is stripped cannot show.
- ``xǁPreparedOutputǁkey__mutmut_4`` (``ensure_ascii=None``): json.dumps tests the flag for
  truth, so None acts as False.
- ``x_prepare__mutmut_238`` (``prepare_push(request, ctx, None)``): prepare_push appends its
  "summary was truncated" note only when the sanitized summary is over BODY_CAP, and
  sanitize_body already caps it at BODY_CAP, so the notes list is never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from github import Auth, Github
from github.Repository import Repository
from pydantic import BaseModel

from factory.config.outputs_config import Outputs
from factory.errors import OutputRefused
from factory.forge.config_proposals import FileChange, ProposeConfigChangeRequest
from factory.forge.output_requests import (
    AddLabelsRequest,
    CloseIssueRequest,
    CommentRequest,
    CreateIssueRequest,
    MergePullRequestRequest,
    OpenPullRequestRequest,
    PreparedOutput,
    RemoveLabelsRequest,
    ReviewPullRequestRequest,
    RunContext,
    prepare,
)
from factory.forge.pr_push import PushToPullRequestRequest
from factory.forge.revert_request import REASON_CAP, RevertPullRequestRequest
from factory.forge.sanitize import cap_text
from factory.forge.sentry_outputs import SENTRY_TEXT_CAP, SentryUpdateRequest
from factory.forge.slack_outputs import (
    SLACK_TEXT_CAP,
    SlackPostRequest,
    SlackReactRequest,
    SlackReplyRequest,
)
from factory.logs import REDACTED
from factory.sentry.client import SentryClient
from factory.sentry.side import SentrySide
from factory.slack.client import web_client
from factory.slack.messages import SlackSide, SlackThread
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_sentry import FakeSentry

BOT_TOKEN = "t-factory-bot"
REPO = "acme/widgets"
TRUNCATED = "the body was truncated to 60000 characters"
MakeCtx = Callable[..., RunContext]


@pytest.fixture(scope="module")
def repo() -> Iterator[Repository]:
    """A PyGithub repository on a FakeGitHub (prepare never calls it)."""
    with FakeGitHub() as server:
        server.add_user("factory-bot", token=BOT_TOKEN, permission="write")
        server.create_repo(REPO)
        gh = Github(base_url=server.api_url, auth=Auth.Token(BOT_TOKEN))
        yield gh.get_repo(REPO)


@pytest.fixture
def make_ctx(repo: Repository, store: RunStore) -> MakeCtx:
    """Return ``make(outputs, subject=1, **fields)``: a run's context."""

    def make(outputs: dict[str, Any], subject: int | None = 1, **fields: Any) -> RunContext:
        spec = Outputs.model_validate(outputs)
        return RunContext("run-1", "builder", spec, subject, repo, store, **fields)

    return make


def refusal(kind: str, request: BaseModel, ctx: RunContext) -> str:
    """Return the reason ``prepare`` refuses ``request`` with."""
    with pytest.raises(OutputRefused) as caught:
        prepare(kind, request, ctx)
    return str(caught.value)


# -- the stored intent and its key ------------------------------------------------------------


def test_stored_intent_holds_target_and_payload() -> None:
    """A prepared output is stored as its target and payload."""
    prepared = PreparedOutput("comment", 3, {"body": "hi"})
    assert prepared.to_stored() == {"target": 3, "payload": {"body": "hi"}}


def test_key_of_a_targeted_output_is_stable() -> None:
    """The key of a comment on #7 is scope, kind, number and a fixed hash of the content."""
    prepared = PreparedOutput("comment", 7, {"body": "café", "a": 1})
    assert prepared.key("scope-1") == "scope-1:comment:7:f8bb3d430aa2435ceb1d"


def test_key_of_a_repository_output_says_repo() -> None:
    """The key of an output with no target (a new issue) names the repository."""
    prepared = PreparedOutput("create_issue", None, {"title": "t"})
    assert prepared.key("scope-1") == "scope-1:create_issue:repo:81d6197e16ff33ce7224"


def test_key_does_not_depend_on_payload_order() -> None:
    """Two payloads with the same fields in another order have the same key."""
    one = PreparedOutput("comment", 1, {"a": 1, "b": 2})
    two = PreparedOutput("comment", 1, {"b": 2, "a": 1})
    assert one.key("s") == two.key("s")


# -- bodies and titles ------------------------------------------------------------------------


def test_body_of_exactly_the_cap_is_kept_without_a_note(make_ctx: MakeCtx) -> None:
    """A comment body of exactly BODY_CAP characters is not said to be truncated."""
    prepared = prepare("comment", CommentRequest(body="z" * 60_000), make_ctx({"comment": {}}))
    assert (len(prepared.payload["body"]), prepared.notes) == (60_000, ())


def test_secret_formed_by_adding_the_prefix_is_redacted(make_ctx: MakeCtx) -> None:
    """A secret that only appears once the title prefix is joined on is still redacted."""
    ctx = make_ctx({"create_issue": {"title_prefix": "[factory]"}}, secrets=("[factory] tok",))
    prepared = prepare("create_issue", CreateIssueRequest(title="tok"), ctx)
    assert prepared.payload["title"] == REDACTED


def test_oversized_new_issue_body_is_noted(make_ctx: MakeCtx) -> None:
    """A create_issue body over the cap is truncated and the model is told."""
    ctx = make_ctx({"create_issue": {}})
    prepared = prepare("create_issue", CreateIssueRequest(title="t", body="z" * 60_001), ctx)
    assert prepared.notes == (TRUNCATED,)


def test_oversized_pull_request_body_is_noted(make_ctx: MakeCtx) -> None:
    """An open_pull_request body over the cap is truncated and the model is told."""
    ctx = make_ctx({"open_pull_request": {}})
    prepared = prepare(
        "open_pull_request", OpenPullRequestRequest(title="t", body="z" * 60_001), ctx
    )
    assert prepared.notes == (TRUNCATED,)


def test_oversized_review_body_is_noted(make_ctx: MakeCtx) -> None:
    """A review body over the cap is truncated and the model is told."""
    ctx = make_ctx({"review_pull_request": {}})
    request = ReviewPullRequestRequest(event="COMMENT", body="z" * 60_001)
    assert prepare("review_pull_request", request, ctx).notes == (TRUNCATED,)


def test_oversized_close_comment_is_noted_as_the_comment(make_ctx: MakeCtx) -> None:
    """A close_issue comment over the cap is truncated and the note names the comment."""
    ctx = make_ctx({"close_issue": {}})
    prepared = prepare("close_issue", CloseIssueRequest(comment="z" * 60_001), ctx)
    assert prepared.notes == ("the comment was truncated to 60000 characters",)


def test_close_without_comment_has_no_comment(make_ctx: MakeCtx) -> None:
    """close_issue without a comment prepares the reason and no comment."""
    prepared = prepare("close_issue", CloseIssueRequest(), make_ctx({"close_issue": {}}))
    assert (prepared.target, prepared.payload) == (1, {"reason": "completed", "comment": None})


# -- labels -------------------------------------------------------------------------------------


def test_refused_labels_are_listed_with_commas(make_ctx: MakeCtx) -> None:
    """Every refused label and every allowed one is named, comma-separated."""
    ctx = make_ctx({"remove_labels": {"allowed": ["b", "a"]}})
    reason = refusal("remove_labels", RemoveLabelsRequest(labels=["x", "y"]), ctx)
    assert reason == "remove_labels: label(s) 'x', 'y' are not allowed (allowed: 'a', 'b')"


def test_new_issue_label_with_no_allowlist_says_none_allowed(make_ctx: MakeCtx) -> None:
    """A label on a new issue when no label is configured is refused, saying none is allowed."""
    ctx = make_ctx({"create_issue": {}})
    reason = refusal("create_issue", CreateIssueRequest(title="t", labels=["bug"]), ctx)
    assert reason == "create_issue: label(s) 'bug' are not allowed (allowed: none)"


# -- kinds and targets --------------------------------------------------------------------------


def test_kind_without_a_request_model_is_refused(make_ctx: MakeCtx) -> None:
    """prepare refuses a kind it has no model for, naming the automation."""
    reason = refusal("delete_repo", CommentRequest(body="x"), make_ctx({"comment": {}}))
    assert reason == "delete_repo: not allowed for automation 'builder'"


def test_kind_not_configured_is_refused(make_ctx: MakeCtx) -> None:
    """prepare refuses a known kind the automation does not configure."""
    reason = refusal("merge_pull_request", MergePullRequestRequest(), make_ctx({"comment": {}}))
    assert reason == "merge_pull_request: not allowed for automation 'builder'"


def test_request_of_no_known_model_is_refused(make_ctx: MakeCtx) -> None:
    """A configured kind given a request that is none of the models is refused as unknown."""

    class Other(BaseModel):
        body: str = "x"

    assert refusal("comment", Other(), make_ctx({"comment": {}})) == (
        "comment: unknown output kind"
    )


def test_comment_elsewhere_without_subject_says_none(make_ctx: MakeCtx) -> None:
    """A run with no subject commenting on another issue is told its subject is none."""
    ctx = make_ctx({"comment": {}}, subject=None)
    assert refusal("comment", CommentRequest(body="x", number=2), ctx) == (
        "comment: #2 is not this run's subject (none); comments go to the subject"
    )


@pytest.mark.parametrize(
    ("kind", "request_"),
    [
        ("remove_labels", RemoveLabelsRequest(labels=["a"])),
        ("close_issue", CloseIssueRequest()),
        ("review_pull_request", ReviewPullRequestRequest(event="COMMENT", body="x")),
        ("merge_pull_request", MergePullRequestRequest()),
    ],
)
def test_subject_kind_without_subject_is_refused_naming_the_kind(
    make_ctx: MakeCtx, kind: str, request_: BaseModel
) -> None:
    """A kind acting on the subject, in a run with none, is refused naming the kind."""
    outputs = {kind: {"allowed": ["a"]} if kind == "remove_labels" else {}}
    ctx = make_ctx(outputs, subject=None)
    assert refusal(kind, request_, ctx) == f"{kind}: run run-1 has no subject to act on"


# -- reviews ---------------------------------------------------------------------------------


def test_refused_verdict_lists_the_allowed_ones(make_ctx: MakeCtx) -> None:
    """A verdict not allowed is refused, listing the allowed verdicts comma-separated."""
    ctx = make_ctx({"review_pull_request": {"events": ["COMMENT", "REQUEST_CHANGES"]}})
    assert refusal("review_pull_request", ReviewPullRequestRequest(event="APPROVE"), ctx) == (
        "review_pull_request: verdict 'APPROVE' is not allowed (allowed: COMMENT, REQUEST_CHANGES)"
    )


def test_approval_needs_no_body(make_ctx: MakeCtx) -> None:
    """An APPROVE review without a body is prepared for the subject."""
    ctx = make_ctx({"review_pull_request": {"events": ["APPROVE"]}})
    prepared = prepare("review_pull_request", ReviewPullRequestRequest(event="APPROVE"), ctx)
    assert (prepared.target, prepared.payload) == (1, {"event": "APPROVE", "body": ""})


def test_comment_review_without_body_is_refused(make_ctx: MakeCtx) -> None:
    """A COMMENT review with a blank body is refused, saying it needs one."""
    ctx = make_ctx({"review_pull_request": {}})
    request = ReviewPullRequestRequest(event="COMMENT", body="  ")
    assert refusal("review_pull_request", request, ctx) == (
        "review_pull_request: a COMMENT review needs a body"
    )


def test_review_payload_carries_the_verdict(make_ctx: MakeCtx) -> None:
    """A review is prepared as its verdict and body."""
    ctx = make_ctx({"review_pull_request": {}})
    request = ReviewPullRequestRequest(event="COMMENT", body="ok")
    assert prepare("review_pull_request", request, ctx).payload == {
        "event": "COMMENT",
        "body": "ok",
    }


# -- merging -------------------------------------------------------------------------------


def test_merge_targets_the_subject_with_the_configured_method(make_ctx: MakeCtx) -> None:
    """merge_pull_request is prepared for the subject, with the method and the reason."""
    ctx = make_ctx({"merge_pull_request": {"method": "rebase"}}, subject=4)
    prepared = prepare("merge_pull_request", MergePullRequestRequest(reason="green"), ctx)
    assert (prepared.target, prepared.payload) == (4, {"method": "rebase", "reason": "green"})


# -- approval labels -----------------------------------------------------------------------

APPROVAL = frozenset({"ready", "approved"})


def test_approval_labels_from_an_untrusted_run_are_refused_naming_them_and_the_trust(
    make_ctx: MakeCtx,
) -> None:
    """add_labels with approval labels, caused by anyone, is refused naming each and the trust."""
    ctx = make_ctx(
        {"add_labels": {"allowed": ["bug", "ready", "approved"]}}, approval_labels=APPROVAL
    )
    request = AddLabelsRequest(labels=["bug", "ready", "approved"])
    assert refusal("add_labels", request, ctx) == (
        "add_labels: label(s) 'ready', 'approved' approve work, and this run was caused by an"
        " actor trusted as 'anyone': only a maintainer's request may approve (use the triage"
        " label and let a maintainer approve)"
    )


def test_approval_label_from_a_maintainers_run_is_kept(make_ctx: MakeCtx) -> None:
    """add_labels with an approval label, caused by a maintainer, is prepared with it."""
    ctx = make_ctx(
        {"add_labels": {"allowed": ["bug", "ready"]}},
        approval_labels=APPROVAL,
        trust="maintainers",
    )
    prepared = prepare("add_labels", AddLabelsRequest(labels=["ready"]), ctx)
    assert prepared.payload == {"labels": ["ready"]}


def test_new_issue_with_an_approval_label_from_an_untrusted_run_is_refused(
    make_ctx: MakeCtx,
) -> None:
    """create_issue carrying an approval label, caused by a collaborator, is refused as such."""
    ctx = make_ctx(
        {"create_issue": {}, "add_labels": {"allowed": ["ready"]}},
        approval_labels=APPROVAL,
        trust="collaborators",
    )
    request = CreateIssueRequest(title="t", labels=["ready"])
    assert refusal("create_issue", request, ctx).startswith(
        "create_issue: label(s) 'ready' approve work, and this run was caused by an actor"
        " trusted as 'collaborators'"
    )


# -- Slack replies -------------------------------------------------------------------------


def test_long_slack_reply_is_prepared_capped_with_a_note(make_ctx: MakeCtx) -> None:
    """A slack_reply over the cap is prepared for the run's thread, capped, and says so."""
    thread = SlackThread("C0BUGS001", "1700000000.000100")
    side = SlackSide(web_client("xoxb-unused", "http://127.0.0.1:9/api/"), thread)
    ctx = make_ctx({"slack_reply": {}}, slack=side)
    prepared = prepare("slack_reply", SlackReplyRequest(text="y" * (SLACK_TEXT_CAP + 1)), ctx)
    assert (prepared.target, prepared.payload["thread_ts"], prepared.notes) == (
        None,
        "1700000000.000100",
        (f"the text was truncated to {SLACK_TEXT_CAP} characters",),
    )


def test_slack_reaction_outside_the_configured_emoji_is_refused(make_ctx: MakeCtx) -> None:
    """slack_react is checked against the kind's own ``allowed`` emoji list."""
    thread = SlackThread("C0BUGS001", "1700000000.000100")
    side = SlackSide(web_client("xoxb-unused", "http://127.0.0.1:9/api/"), thread)
    ctx = make_ctx({"slack_react": {"allowed": ["eyes"]}}, slack=side)
    assert refusal("slack_react", SlackReactRequest(name="fire"), ctx) == (
        "slack_react: emoji 'fire' is not allowed (allowed: 'eyes')"
    )


# -- sub-issues, dedupe keys, slack_post, push_to_pull_request, revert_pull_request --------


def test_create_issue_with_a_parent_it_created_and_a_dedupe_key(make_ctx: MakeCtx) -> None:
    """A parent this run created and a dedupe key both reach the prepared payload."""
    ctx = make_ctx({"create_issue": {"sub_issues": True}})
    request = CreateIssueRequest(title="Part", body="b", parent=5, dedupe="quality:store")
    prepared = prepare("create_issue", request, ctx, created=[5])
    assert (prepared.payload["parent"], prepared.payload["dedupe"]) == (5, "quality:store")


def test_create_issue_under_a_parent_without_sub_issues_is_refused(make_ctx: MakeCtx) -> None:
    """A parent is refused where the automation's create_issue has no sub_issues: true."""
    ctx = make_ctx({"create_issue": {}})
    assert refusal("create_issue", CreateIssueRequest(title="t", parent=1), ctx) == (
        "create_issue: sub-issues are not allowed for automation 'builder' (its create_issue"
        " output has no `sub_issues: true`); leave out `parent`"
    )


def test_slack_post_without_a_channel_is_refused_as_such(make_ctx: MakeCtx) -> None:
    """slack_post is a Slack kind: a run with no Slack channel is told it has none."""
    ctx = make_ctx({"slack_post": {}})
    assert refusal("slack_post", SlackPostRequest(text="digest"), ctx) == (
        "slack_post: run run-1 has no Slack channel to post to"
    )


def test_revert_is_prepared_for_its_pull_request_with_labels_issues_and_a_note(
    make_ctx: MakeCtx,
) -> None:
    """A revert targets its pull request and carries the capped reason, labels and issues."""
    ctx = make_ctx({"revert_pull_request": {"labels": ["revert"]}})
    request = RevertPullRequestRequest(pull_number=4, reason="r" * (REASON_CAP + 1))
    prepared = prepare("revert_pull_request", request, ctx, created=[9, 3, 9])
    assert (prepared.target, prepared.payload, prepared.notes) == (
        4,
        {
            "pull_number": 4,
            "reason": cap_text("r" * (REASON_CAP + 1), REASON_CAP),
            "labels": ["revert"],
            "issues": [3, 9],
        },
        (f"the reason was truncated to {REASON_CAP} characters",),
    )


@pytest.fixture
def pull_repo() -> Iterator[tuple[Repository, int]]:
    """A repository with one open pull request the bot opened from a factory/ branch."""
    with FakeGitHub() as server:
        server.add_user("factory-bot", token=BOT_TOKEN, permission="write")
        server.create_repo(REPO, files={"README.md": "# w\n"})
        main = server.repo(REPO).git.resolve("refs/heads/main")
        assert main is not None
        server.repo(REPO).git.create_ref("refs/heads/factory/fix-1", main)
        server.commit_files(REPO, "factory/fix-1", {"docs/a.md": "a\n"}, "change")
        number = server.create_pull(REPO, "factory/fix-1", "Fix", "Body.", as_user="factory-bot")
        gh = Github(base_url=server.api_url, auth=Auth.Token(BOT_TOKEN))
        yield gh.get_repo(REPO), number.number


def test_push_is_prepared_for_the_runs_own_pull_request(
    pull_repo: tuple[Repository, int], store: RunStore
) -> None:
    """A push targets the run's pull request and carries its branch and the message."""
    repo, number = pull_repo
    spec = Outputs.model_validate({"push_to_pull_request": {}})
    ctx = RunContext("run-1", "shepherd", spec, number, repo, store, bot_login="factory-bot")
    prepared = prepare("push_to_pull_request", PushToPullRequestRequest(message="Fix it"), ctx)
    assert (prepared.target, prepared.payload["branch"], prepared.payload["message"]) == (
        number,
        "factory/fix-1",
        "Fix it",
    )


# -- sentry_update ----------------------------------------------------------------------------


@pytest.fixture
def sentry_side() -> Iterator[SentrySide]:
    """A run about Sentry issue 4711, with a real client on a FakeSentry (prepare never calls)."""
    with FakeSentry() as sentry:
        client = SentryClient(sentry.api_url, sentry.token, sentry.org)
        yield SentrySide(client, "4711", from_subject=True)


def test_sentry_resolve_is_prepared_for_the_runs_sentry_issue(
    make_ctx: MakeCtx, sentry_side: SentrySide
) -> None:
    """A resolve of the run's Sentry issue has no GitHub target and carries the issue, status."""
    ctx = make_ctx({"sentry_update": {"allowed": ["resolve"]}}, sentry=sentry_side)
    prepared = prepare("sentry_update", SentryUpdateRequest(action="resolve"), ctx)
    assert prepared == PreparedOutput(
        "sentry_update", None, {"issue_id": "4711", "action": "resolve", "status": "resolved"}
    )


def test_sentry_comment_links_the_issue_the_run_filed(
    make_ctx: MakeCtx, sentry_side: SentrySide, repo: Repository
) -> None:
    """A run without a GitHub subject that filed #5 links #5 under its Sentry comment."""
    ctx = make_ctx({"sentry_update": {}}, subject=None, sentry=sentry_side)
    request = SentryUpdateRequest(action="comment", text="Filed it.")
    prepared = prepare("sentry_update", request, ctx, created=[5])
    text = f"Filed it.\n\nGitHub: {repo.html_url}/issues/5"
    assert prepared.payload == {"issue_id": "4711", "action": "comment", "text": text}


def test_overlong_sentry_comment_is_capped_with_a_note(
    make_ctx: MakeCtx, sentry_side: SentrySide
) -> None:
    """A Sentry comment over the cap is cut to it and the model is told."""
    ctx = make_ctx({"sentry_update": {}}, subject=None, sentry=sentry_side)
    request = SentryUpdateRequest(action="comment", text="z" * (SENTRY_TEXT_CAP + 1))
    prepared = prepare("sentry_update", request, ctx)
    assert (len(prepared.payload["text"]), prepared.notes) == (
        SENTRY_TEXT_CAP,
        (f"the text was truncated to {SENTRY_TEXT_CAP} characters",),
    )


# -- propose_config_change --------------------------------------------------------------------


def _proposal(store: RunStore, body: str = "Tests time out.") -> ProposeConfigChangeRequest:
    """A proposal to change the builder's YAML, resting on one run recorded in ``store``."""
    evidence = store.create_run("builder")
    change = FileChange(path="automations/builder.yaml", content="max_turns: 40\n")
    return ProposeConfigChangeRequest(
        title="Give the builder more turns", body=body, evidence=[evidence], changes=[change]
    )


def test_config_proposal_is_prepared_with_its_files_and_labels(
    make_ctx: MakeCtx, store: RunStore
) -> None:
    """A proposal has no GitHub target and carries its files and the configured labels."""
    ctx = make_ctx({"propose_config_change": {"labels": ["tuning"]}}, subject=None)
    prepared = prepare("propose_config_change", _proposal(store), ctx)
    assert (prepared.target, prepared.payload["changes"], prepared.payload["labels"]) == (
        None,
        [{"path": "automations/builder.yaml", "content": "max_turns: 40\n"}],
        ["tuning"],
    )


def test_config_proposal_resting_on_an_unknown_run_is_refused(make_ctx: MakeCtx) -> None:
    """Evidence the store does not have is refused by name."""
    ctx = make_ctx({"propose_config_change": {}}, subject=None)
    change = FileChange(path="automations/builder.yaml", content="x: 1\n")
    request = ProposeConfigChangeRequest(title="t", body="b", evidence=["nope"], changes=[change])
    assert refusal("propose_config_change", request, ctx) == (
        "propose_config_change: evidence run 'nope' is not in the run store"
    )


def test_overlong_config_proposal_is_noted(make_ctx: MakeCtx, store: RunStore) -> None:
    """A proposal whose description is over the cap is truncated and the model is told."""
    ctx = make_ctx({"propose_config_change": {}}, subject=None)
    prepared = prepare("propose_config_change", _proposal(store, "z" * 60_001), ctx)
    assert prepared.notes == ("the description was truncated",)
