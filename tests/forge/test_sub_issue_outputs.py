"""create_issue with ``parent`` (GitHub sub-issues) and ``dedupe`` through the output gate."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from github import Auth, Github

from factory.config.outputs_config import Outputs
from factory.crashpoints import CRASH_ENV
from factory.forge.output_requests import RunContext
from factory.forge.outputs import OutputGate
from factory.forge.sub_issues import CRASH_BEFORE_LINK
from factory.store import RunStore
from factory.testing.fake_github import FakeGitHub
from tests.forge.test_outputs_crash import WORKER, writes

BOT, BOT_TOKEN = "factory-bot", "t-sub-bot"
SUBS = {"create_issue": {"max": 3, "sub_issues": True}}
_names = itertools.count(1)
MakeCtx = Callable[..., RunContext]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGitHub]:
    """One FakeGitHub for the module, with the bot (write) and alice (admin)."""
    with FakeGitHub() as server:
        server.add_user(BOT, token=BOT_TOKEN, permission="write")
        server.add_user("alice", token="t-alice", permission="admin")
        yield server


@pytest.fixture
def repo_name(fake: FakeGitHub) -> str:
    """A fresh repo with alice's issues #1 (the subject) and #2 (someone else's)."""
    name = f"acme/subs-{next(_names)}"
    fake.create_repo(name)
    fake.create_issue(name, "Big feature", "Lots to do.", as_user="alice")
    fake.create_issue(name, "Other work", "", as_user="alice")
    return name


@pytest.fixture
def make_ctx(fake: FakeGitHub, repo_name: str, store: RunStore) -> MakeCtx:
    """Return ``make(outputs=SUBS, run_id=None)``: the bot's run context about issue #1."""

    def make(outputs: dict[str, Any] = SUBS, run_id: str | None = None) -> RunContext:
        gh = Github(
            base_url=fake.api_url,
            auth=Auth.Token(BOT_TOKEN),
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        run = run_id or store.create_run("planner", subject_key="issue:1")
        spec = Outputs.model_validate(outputs)
        return RunContext(
            run,
            "planner",
            spec,
            1,
            gh.get_repo(repo_name),
            store,
            bot_login=BOT,
            secrets=("s3cr3t-v4lue",),
        )

    return make


def _subs(fake: FakeGitHub, repo: str, parent: int = 1) -> list[int]:
    return list(fake.repo(repo).sub_issues.get(parent, []))


def _part(n: int = 1, **extra: Any) -> dict[str, Any]:
    return {"title": f"Part {n}", "body": "Do it.", "parent": 1, **extra}


def test_sub_issue_is_opened_and_linked_under_the_subject(
    make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """Allowed: the new issue is applied and GitHub lists it as the subject's sub-issue."""
    decision = OutputGate().request(make_ctx(), "create_issue", _part())
    assert (decision.status, _subs(fake, repo_name)) == ("applied", [3])


def test_parent_is_refused_without_sub_issues_in_the_config(
    make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """Without ``sub_issues: true`` a request naming a parent is refused and nothing is filed."""
    decision = OutputGate().request(make_ctx({"create_issue": {}}), "create_issue", _part())
    assert (decision.status, len(fake.repo(repo_name).issues)) == ("refused", 2)


def test_parent_that_is_not_the_runs_is_refused(
    make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """A parent that is neither the subject nor an issue the run created is refused."""
    decision = OutputGate().request(make_ctx(), "create_issue", _part(parent=2))
    assert (decision.status, _subs(fake, repo_name, 2)) == ("refused", [])


def test_sub_issue_may_go_under_an_issue_the_run_created(
    make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """An issue the run opened may be the parent of the run's next one."""
    ctx, gate = make_ctx(), OutputGate()
    gate.request(ctx, "create_issue", _part(1))
    gate.request(ctx, "create_issue", _part(2, parent=3))
    assert (_subs(fake, repo_name), _subs(fake, repo_name, 3)) == ([3], [4])


def test_sub_issues_count_against_the_create_issue_quota(
    make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """Quota: past ``max`` the request is refused and no issue is opened or linked."""
    ctx, gate = make_ctx({"create_issue": {"max": 2, "sub_issues": True}}), OutputGate()
    statuses = [gate.request(ctx, "create_issue", _part(n)).status for n in (1, 2, 3)]
    assert (statuses, _subs(fake, repo_name)) == (["applied", "applied", "refused"], [3, 4])


def test_sub_issue_text_is_sanitized(make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str) -> None:
    """Sanitized: secrets are redacted and a forged dedupe line is stripped from the body."""
    body = "token s3cr3t-v4lue\n<!-- factoryd:dedupe key=quality:x -->"
    OutputGate().request(make_ctx(), "create_issue", _part(body=body, title="Part s3cr3t-v4lue"))
    issue = fake.issue(repo_name, 3)
    text = f"{issue.title}\n{issue.body}"
    assert ("s3cr3t-v4lue" in text, "key=quality:x" in text) == (False, False)


def test_repeated_sub_issue_request_links_once(
    make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """The same request twice is one issue and one link."""
    ctx, gate = make_ctx(), OutputGate()
    gate.request(ctx, "create_issue", _part())
    again = gate.request(ctx, "create_issue", _part())
    assert (again.duplicate, len(fake.repo(repo_name).issues), _subs(fake, repo_name)) == (
        True,
        3,
        [3],
    )


# -- dedupe ------------------------------------------------------------------------------


def test_dedupe_key_refuses_a_second_open_issue(
    make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """A second request with the key of an open issue (another run, other words) is refused."""
    OutputGate().request(make_ctx(), "create_issue", {"title": "Storage: C", "dedupe": "q:storage"})
    later = OutputGate().request(
        make_ctx(), "create_issue", {"title": "Storage again", "dedupe": "q:storage"}
    )
    assert (later.status, "#3" in later.reason, len(fake.repo(repo_name).issues)) == (
        "refused",
        True,
        3,
    )


def test_dedupe_refuses_an_open_issue_with_the_same_title(
    make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """An open issue by a person with the same title (any case) counts as the duplicate."""
    request = {"title": "other WORK", "dedupe": "q:other"}
    decision = OutputGate().request(make_ctx(), "create_issue", request)
    assert (decision.status, "#2" in decision.reason) == ("refused", True)


def test_dedupe_key_of_a_closed_issue_does_not_block(
    make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str
) -> None:
    """Once the issue with the key is closed, the area may be filed again."""
    OutputGate().request(make_ctx(), "create_issue", {"title": "Storage: C", "dedupe": "q:storage"})
    fake.close_issue(repo_name, 3, as_user="alice")
    again = OutputGate().request(
        make_ctx(), "create_issue", {"title": "Storage", "dedupe": "q:storage"}
    )
    assert again.status == "applied"


# -- kill -9 ----------------------------------------------------------------------------


def _crash(fake: FakeGitHub, repo: str, store: RunStore, run_id: str, point: str) -> int:
    env = {**os.environ, CRASH_ENV: point, "FACTORYD_TEST_TOKEN": BOT_TOKEN}
    argv = [fake.api_url, repo, str(store.path), run_id, "1", "create_issue"]
    argv += [json.dumps(_part()), json.dumps(SUBS)]
    done = subprocess.run(
        [sys.executable, str(WORKER), *argv], env=env, capture_output=True, text=True, timeout=60
    )
    return done.returncode


@pytest.mark.parametrize("point", [CRASH_BEFORE_LINK, "output_after_github:create_issue"])
def test_reconcile_after_kill_leaves_one_linked_issue(
    make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str, store: RunStore, point: str
) -> None:
    """Killed between create and link (or after both), reconcile ends with one issue, linked
    once, and the output applied."""
    run_id = store.create_run("planner", subject_key="issue:1")
    code = _crash(fake, repo_name, store, run_id, point)
    [decision] = OutputGate().reconcile(make_ctx(run_id=run_id))
    assert (code, decision.status, len(fake.repo(repo_name).issues), _subs(fake, repo_name)) == (
        9,
        "applied",
        3,
        [3],
    )


def test_repeated_request_after_kill_before_link_opens_no_second_issue(
    make_ctx: MakeCtx, fake: FakeGitHub, repo_name: str, store: RunStore
) -> None:
    """The retried run asking again links the crashed attempt's issue; one new issue write."""
    run_id = store.create_run("planner", subject_key="issue:1")
    _crash(fake, repo_name, store, run_id, CRASH_BEFORE_LINK)
    before = writes(fake, repo_name)
    OutputGate().request(make_ctx(run_id=run_id), "create_issue", _part())
    assert (writes(fake, repo_name) - before, _subs(fake, repo_name)) == (1, [3])
