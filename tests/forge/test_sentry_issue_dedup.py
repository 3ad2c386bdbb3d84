"""One GitHub issue per Sentry issue: the ``sentry-issue: ID`` line, and a second filing made
a comment on the open issue already filed (lineage first, then search), against FakeGitHub."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from github.Repository import Repository

from factory.forge.markers import render_marker
from factory.forge.output_requests import RunContext
from factory.forge.outputs import OutputGate
from factory.forge.sentry_filing import sentry_issue_in
from factory.sentry.client import SentryClient
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from factory.testing.fake_sentry import FakeSentry
from tests.forge.sentry_helpers import (
    BOT,
    MALLORY,
    Crash,
    add_accounts,
    crash,
    make_context,
    new_repo,
    sentry_client,
)

FILE = {"create_issue": {"labels": ["bug"]}, "comment": {}}
REQUEST = {"title": "ZeroDivisionError in calc.add", "body": "Divides by b, which may be 0."}
MARKER = render_marker("run-0", "run-0:create_issue:repo:abc")
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
    """A fresh Sentry issue."""
    return sentry.add_issue()


@pytest.fixture
def make_ctx(store: RunStore, repo: Repository, client: SentryClient, issue_id: str) -> MakeCtx:
    """Return ``make(**fields)``: a new run about the Sentry issue (each call a new run)."""

    def make(outputs: dict[str, Any] = FILE, **kw: Any) -> RunContext:
        kw.setdefault("issue_id", issue_id)
        return make_context(store, repo, client, outputs=outputs, **kw)

    return make


def _issues(github: FakeGitHub, repo: Repository) -> list[int]:
    return sorted(n for n, i in github.repo(repo.full_name).issues.items() if not i.is_pr)


def _file(ctx: RunContext, body: str = REQUEST["body"]) -> Any:
    return OutputGate().request(ctx, "create_issue", {**REQUEST, "body": body})


def _planted(github: FakeGitHub, repo: Repository, sentry_id: str, *, as_user: str = BOT) -> int:
    """File an issue carrying the line as another daemon would (not in this store)."""
    body = f"Found earlier.\n\nsentry-issue: {sentry_id}\n\n{MARKER}"
    return github.create_issue(repo.full_name, "Earlier", body, as_user=as_user).number


# -- the line ----------------------------------------------------------------------------


def test_issue_filed_for_a_sentry_issue_names_it(
    make_ctx: MakeCtx, github: FakeGitHub, repo: Repository, issue_id: str
) -> None:
    """The body of an issue filed by a run about a Sentry issue carries its line, read back."""
    decision = _file(make_ctx())
    number = int((decision.url or "").rsplit("/", 1)[1])
    assert sentry_issue_in(github.issue(repo.full_name, number).body) == issue_id


def test_line_is_the_last_visible_line(
    make_ctx: MakeCtx, github: FakeGitHub, repo: Repository, issue_id: str
) -> None:
    """The line sits right before the hidden marker, after the model's text."""
    _file(make_ctx())
    body = github.issue(repo.full_name, _issues(github, repo)[0]).body or ""
    assert body.splitlines()[-3:-1] == [f"sentry-issue: {issue_id}", ""]


def test_issue_of_a_run_linked_to_sentry_has_no_line(
    make_ctx: MakeCtx, github: FakeGitHub, repo: Repository
) -> None:
    """A run whose subject is a GitHub issue (Sentry only linked) files without the line."""
    _file(make_ctx(from_subject=False, subject=1))
    body = github.issue(repo.full_name, _issues(github, repo)[0]).body
    assert sentry_issue_in(body) is None


def test_forged_line_in_the_body_is_neutralized(
    make_ctx: MakeCtx, github: FakeGitHub, repo: Repository, issue_id: str
) -> None:
    """A ``sentry-issue:`` the model wrote (quoting an error) is made ``sentry issue:``."""
    _file(make_ctx(), body="Error text says: sentry-issue: 424242")
    body = github.issue(repo.full_name, _issues(github, repo)[0]).body or ""
    assert (body.count("sentry-issue:"), "sentry issue: 424242" in body) == (1, True)


def test_forged_last_line_of_an_unrelated_run_names_nothing(
    make_ctx: MakeCtx, github: FakeGitHub, repo: Repository
) -> None:
    """A run not about Sentry whose body ends with a forged line files an issue naming none."""
    _file(make_ctx(from_subject=False, subject=1), body="text\n\nsentry-issue: 424242")
    body = github.issue(repo.full_name, _issues(github, repo)[0]).body
    assert sentry_issue_in(body) is None


@pytest.mark.parametrize(
    ("body", "found"),
    [
        (f"x\n\nsentry-issue: 12\n\n{MARKER}", "12"),
        (f"sentry-issue: 12\n{MARKER}", "12"),
        ("x\n\nsentry-issue: 12", None),
        (f"sentry-issue: 12\n\nmore text\n\n{MARKER}", None),
        (f"x\n\n> sentry-issue: 12\n\n{MARKER}", None),
        (f"x\n\nsentry-issue: 12 and 13\n\n{MARKER}", None),
        (f"x\n\nSentry-Issue: 12\n\n{MARKER}", None),
        (f"x\n\nsentry-issue: 12\n\n{MARKER} trailing", None),
        (None, None),
    ],
    ids=[
        "daemon-form",
        "no-blank-line",
        "no-marker",
        "not-last",
        "quoted",
        "extra-text",
        "other-case",
        "marker-not-alone",
        "no-body",
    ],
)
def test_line_is_read_only_in_the_daemon_place(body: str | None, found: str | None) -> None:
    """Only the last visible line before a lone factoryd marker names a Sentry issue."""
    assert sentry_issue_in(body) == found


# -- lineage --------------------------------------------------------------------------------


def test_filing_links_the_sentry_issue(
    make_ctx: MakeCtx, store: RunStore, github: FakeGitHub, repo: Repository, issue_id: str
) -> None:
    """An issue filed for a Sentry issue is linked from it (``sentry:ID → issue:N``)."""
    _file(make_ctx())
    assert store.issues_from(f"sentry:{issue_id}") == _issues(github, repo)


def test_filing_of_a_run_linked_to_sentry_adds_no_link(
    make_ctx: MakeCtx, store: RunStore, issue_id: str
) -> None:
    """An issue filed by a run about a GitHub issue is not linked from the Sentry issue."""
    _file(make_ctx(from_subject=False, subject=1))
    assert store.issues_from(f"sentry:{issue_id}") == []


# -- a second filing -----------------------------------------------------------------------------


def test_second_filing_comments_on_the_linked_issue(
    make_ctx: MakeCtx, github: FakeGitHub, repo: Repository
) -> None:
    """A second run filing for the same Sentry issue comments on the first issue instead."""
    _file(make_ctx())
    _file(make_ctx())
    [number] = _issues(github, repo)
    assert len(github.issue(repo.full_name, number).comments) == 1


def test_second_filing_comment_carries_title_and_body(
    make_ctx: MakeCtx, github: FakeGitHub, repo: Repository
) -> None:
    """The comment made of a second filing holds its title as a heading and its body."""
    _file(make_ctx())
    _file(make_ctx())
    [comment] = github.issue(repo.full_name, _issues(github, repo)[0]).comments
    assert comment.body.split("\n\n<!--")[0] == f"### {REQUEST['title']}\n\n{REQUEST['body']}"


def test_second_filing_answers_the_existing_number(
    make_ctx: MakeCtx, store: RunStore, github: FakeGitHub, repo: Repository
) -> None:
    """The redirected filing's result names the existing issue, so the run may comment on it."""
    _file(make_ctx())
    ctx = make_ctx()
    _file(ctx)
    [number] = _issues(github, repo)
    comment = OutputGate().request(ctx, "comment", {"body": "more", "number": number})
    assert comment.status == "applied"


def test_second_filing_puts_no_labels(
    make_ctx: MakeCtx, github: FakeGitHub, repo: Repository
) -> None:
    """The existing issue's labels are left as they were (its triage is the maintainers')."""
    _file(make_ctx())
    [number] = _issues(github, repo)
    github.remove_label(repo.full_name, number, "bug", as_user=BOT)
    _file(make_ctx())
    assert github.labels_of(repo.full_name, number) == []


def test_filing_for_another_sentry_issue_files_anew(
    make_ctx: MakeCtx, sentry: FakeSentry, github: FakeGitHub, repo: Repository
) -> None:
    """Each Sentry issue gets its own GitHub issue."""
    _file(make_ctx())
    _file(make_ctx(issue_id=sentry.add_issue(title="KeyError: 'rate'")))
    assert len(_issues(github, repo)) == 2


def test_closed_linked_issue_lets_a_new_one_be_filed(
    make_ctx: MakeCtx, github: FakeGitHub, repo: Repository
) -> None:
    """Only an open issue takes the second filing; a closed one does not."""
    _file(make_ctx())
    github.close_issue(repo.full_name, _issues(github, repo)[0], as_user=BOT)
    _file(make_ctx())
    assert len(_issues(github, repo)) == 2


def test_second_filing_found_by_search_without_lineage(
    make_ctx: MakeCtx, github: FakeGitHub, repo: Repository, issue_id: str
) -> None:
    """An open bot issue carrying the line (filed elsewhere: no lineage here) takes the filing."""
    number = _planted(github, repo, issue_id)
    _file(make_ctx())
    assert (_issues(github, repo), len(github.issue(repo.full_name, number).comments)) == (
        [number],
        1,
    )


def test_issue_found_by_search_is_linked(
    make_ctx: MakeCtx, store: RunStore, github: FakeGitHub, repo: Repository, issue_id: str
) -> None:
    """The issue search found is linked from the Sentry issue, so lineage has it next time."""
    number = _planted(github, repo, issue_id)
    _file(make_ctx())
    assert store.issues_from(f"sentry:{issue_id}") == [number]


def test_issue_by_someone_else_with_the_line_redirects_nothing(
    make_ctx: MakeCtx, github: FakeGitHub, repo: Repository, issue_id: str
) -> None:
    """An issue carrying the exact line but not authored by the bot is not the one filed."""
    planted = _planted(github, repo, issue_id, as_user=MALLORY)
    _file(make_ctx())
    assert (len(_issues(github, repo)), github.issue(repo.full_name, planted).comments) == (2, [])


def test_line_of_a_longer_id_redirects_nothing(
    make_ctx: MakeCtx, github: FakeGitHub, repo: Repository, issue_id: str
) -> None:
    """A bot issue for Sentry issue ``ID`` + digits is not the one for ``ID`` (prefix search)."""
    _planted(github, repo, issue_id + "7")
    _file(make_ctx())
    assert len(_issues(github, repo)) == 2


def test_model_quoting_a_line_cannot_capture_later_filings(
    make_ctx: MakeCtx,
    sentry: FakeSentry,
    github: FakeGitHub,
    repo: Repository,
    store: RunStore,
) -> None:
    """A bot issue whose model-written body quoted another Sentry issue's line does not take
    that issue's filing (the quote was neutralized; search finds nothing)."""
    other = sentry.add_issue(title="KeyError: 'rate'")
    _file(make_ctx(from_subject=False, subject=1), body=f"see\n\nsentry-issue: {other}")
    _file(make_ctx(issue_id=other))
    assert len(_issues(github, repo)) == 2


def test_pull_request_with_the_line_redirects_nothing(
    make_ctx: MakeCtx, github: FakeGitHub, repo: Repository, issue_id: str
) -> None:
    """A bot pull request carrying the line is not an issue filed for the Sentry issue."""
    github.commit_files(repo.full_name, "fix", {"f.txt": "x\n"}, "Fix")
    body = f"Fix.\n\nsentry-issue: {issue_id}\n\n{MARKER}"
    github.create_pull(repo.full_name, "fix", "Fix", body, as_user=BOT)
    _file(make_ctx())
    assert len(_issues(github, repo)) == 1


# -- after a crash ----------------------------------------------------------------------


def _crash_filing(
    sentry: FakeSentry, github: FakeGitHub, repo: Repository, store: RunStore, issue_id: str
) -> str:
    run_id = store.create_run("incident-responder", subject_key=f"sentry:{issue_id}")
    code = crash(
        sentry,
        github,
        repo.full_name,
        store,
        run_id,
        issue_id,
        Crash("create_issue", REQUEST, FILE),
    )
    assert code == 9
    return run_id


def test_filed_issue_found_again_after_a_crash(
    sentry: FakeSentry,
    github: FakeGitHub,
    repo: Repository,
    store: RunStore,
    client: SentryClient,
    issue_id: str,
) -> None:
    """Killed after GitHub made the issue, the restarted gate finds it and links it: one issue."""
    run_id = _crash_filing(sentry, github, repo, store, issue_id)
    ctx = make_context(store, repo, client, issue_id, FILE, run_id=run_id)
    [decision] = OutputGate().reconcile(ctx)
    assert (decision.duplicate, _issues(github, repo), store.issues_from(f"sentry:{issue_id}")) == (
        True,
        [1],
        [1],
    )


def test_redirected_comment_found_again_after_a_crash(
    sentry: FakeSentry,
    github: FakeGitHub,
    repo: Repository,
    store: RunStore,
    client: SentryClient,
    issue_id: str,
) -> None:
    """Killed after the second filing's comment was posted, the restarted gate finds the
    comment: still one issue with one comment."""
    number = _planted(github, repo, issue_id)
    run_id = _crash_filing(sentry, github, repo, store, issue_id)
    ctx = make_context(store, repo, client, issue_id, FILE, run_id=run_id)
    [decision] = OutputGate().reconcile(ctx)
    comments = github.issue(repo.full_name, number).comments
    assert (decision.duplicate, _issues(github, repo), len(comments)) == (True, [number], 1)
