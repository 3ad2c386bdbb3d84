"""FakeGitHub's own behaviours: events, trust, errors, limits, git, App tokens, webhooks."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from factory.testing.fake_github import FakeGitHub

REPO = "acme/widgets"
R = f"/repos/{REPO}"


def test_label_event_names_who_applied_it(fake: FakeGitHub, call: Any) -> None:
    """The events endpoint says which user applied a label."""
    fake.create_issue(REPO, "x", as_user="eve")
    fake.add_labels(REPO, 1, "factory:ready", as_user="alice")
    got = call("GET", f"{R}/issues/1/events")
    assert [(e["event"], e["actor"]["login"], e["label"]["name"]) for e in got.body] == [
        ("labeled", "alice", "factory:ready")
    ]


def test_labels_given_at_creation_are_labeled_events_by_the_author(
    fake: FakeGitHub, call: Any
) -> None:
    """Creating an issue with labels records who applied them, as GitHub's events do."""
    call("POST", f"{R}/issues", {"title": "x", "labels": ["bug", "factory:ready"]}, token="t-bob")
    got = call("GET", f"{R}/issues/1/events")
    assert [(e["event"], e["actor"]["login"], e["label"]["name"]) for e in got.body] == [
        ("labeled", "bob", "bug"),
        ("labeled", "bob", "factory:ready"),
    ]


@pytest.mark.parametrize(
    ("login", "association"),
    [("alice", "MEMBER"), ("bob", "COLLABORATOR"), ("eve", "NONE")],
    ids=["admin", "write", "none"],
)
def test_author_association_follows_permission(
    fake: FakeGitHub, call: Any, login: str, association: str
) -> None:
    """author_association on an issue is computed from the author's permission."""
    fake.create_issue(REPO, "x", as_user=login)
    assert call("GET", f"{R}/issues/1").body["author_association"] == association


def test_collaborator_permission_endpoint(fake: FakeGitHub, call: Any) -> None:
    """GET collaborators/{user}/permission reports the registered permission."""
    got = call("GET", f"{R}/collaborators/bob/permission")
    assert (got.body["permission"], got.body["user"]["login"]) == ("write", "bob")


def test_removing_absent_label_is_404(fake: FakeGitHub, call: Any) -> None:
    """DELETE of a label the issue does not carry answers 404 like GitHub."""
    fake.create_issue(REPO, "x", as_user="bob")
    got = call("DELETE", f"{R}/issues/1/labels/bug")
    assert (got.status, got.body["message"]) == (404, "Label does not exist")


def test_unknown_token_is_401_bad_credentials(call: Any) -> None:
    """An unknown token answers 401 Bad credentials with a documentation_url."""
    got = call("GET", R, token="nope")
    assert (got.status, sorted(got.body), got.body["message"]) == (
        401,
        ["documentation_url", "message"],
        "Bad credentials",
    )


def test_unknown_repo_is_404(call: Any) -> None:
    """An unknown repo answers GitHub's 404 body."""
    got = call("GET", "/repos/acme/nope")
    assert (got.status, got.body["message"]) == (404, "Not Found")


def test_missing_title_is_422_with_errors(call: Any) -> None:
    """Creating an issue without a title answers 422 with an errors list."""
    got = call("POST", f"{R}/issues", {"body": "b"})
    assert (got.status, got.body["errors"][0]["field"]) == (422, "title")


@pytest.mark.parametrize(
    ("status", "secondary"),
    [(403, False), (429, False), (403, True)],
    ids=["primary-403", "primary-429", "secondary"],
)
def test_injected_rate_limit_has_retry_after(
    fake: FakeGitHub, call: Any, status: int, secondary: bool
) -> None:
    """inject_rate_limit answers the next request with the status and retry-after, then recovers."""
    fake.inject_rate_limit(1, retry_after=7, status=status, secondary=secondary)
    limited = call("GET", R)
    assert (limited.status, limited.headers["retry-after"], call("GET", R).status) == (
        status,
        "7",
        200,
    )


def test_pushed_branch_is_seen_by_the_api(fake: FakeGitHub, call: Any, tmp_path: Path) -> None:
    """A real git push to clone_url shows up in GET /git/ref at once."""
    work = tmp_path / "w"
    subprocess.run(["git", "clone", "-q", fake.clone_url(REPO), str(work)], check=True)
    (work / "f.txt").write_text("f\n")
    for args in (["add", "f.txt"], ["commit", "-qm", "f"], ["push", "-q", "origin", "HEAD:pushed"]):
        subprocess.run(["git", "-C", str(work), *args], check=True)
    sha = subprocess.run(
        ["git", "-C", str(work), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert call("GET", f"{R}/git/ref/heads/pushed").body["object"]["sha"] == sha


def test_concurrent_ref_creation_has_one_winner(fake: FakeGitHub, call: Any) -> None:
    """Eight simultaneous creations of one ref: exactly one 201, the rest 422."""
    sha = fake.repo(REPO).git.resolve("refs/heads/main")
    results: list[int] = []
    gate = threading.Barrier(8)

    def create() -> None:
        gate.wait()
        results.append(
            call("POST", f"{R}/git/refs", {"ref": "refs/heads/claim", "sha": sha}).status
        )

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] + [422] * 7


def test_matching_refs_lists_by_prefix(fake: FakeGitHub, call: Any) -> None:
    """GET git/matching-refs returns only refs under the prefix."""
    fake.commit_files(REPO, "claim/1", {"a": "a"})
    fake.commit_files(REPO, "other", {"a": "a"})
    got = call("GET", f"{R}/git/matching-refs/heads/claim")
    assert [r["ref"] for r in got.body] == ["refs/heads/claim/1"]


def make_pr(fake: FakeGitHub) -> int:
    """Branch off main, change a file, open a PR as bob; return its number."""
    base = fake.repo(REPO).git.resolve("refs/heads/main")
    assert base is not None
    fake.repo(REPO).git.set_ref("refs/heads/feat", base)
    fake.commit_files(REPO, "feat", {"src/app.py": "print('bye')\n"}, "change")
    return fake.create_pull(REPO, "feat", "Change app", as_user="bob").number


def test_diff_media_type_returns_real_diff(fake: FakeGitHub, call: Any) -> None:
    """GET pulls/N with the diff media type answers the git diff text."""
    number = make_pr(fake)
    got = call("GET", f"{R}/pulls/{number}", headers={"Accept": "application/vnd.github.diff"})
    assert "+print('bye')" in got.body and got.body.startswith("diff --git a/src/app.py")


def test_pull_ref_follows_head(fake: FakeGitHub) -> None:
    """refs/pull/N/head in the bare repo points at the PR head."""
    number = make_pr(fake)
    git = fake.repo(REPO).git
    assert git.resolve(f"refs/pull/{number}/head") == git.resolve("refs/heads/feat")


def test_merge_with_stale_sha_is_409(fake: FakeGitHub, call: Any) -> None:
    """Merging with a sha that is not the head answers 409."""
    number = make_pr(fake)
    got = call("PUT", f"{R}/pulls/{number}/merge", {"sha": "0" * 40})
    assert got.status == 409


def test_conflicting_merge_is_405(fake: FakeGitHub, call: Any) -> None:
    """A PR that conflicts with its base answers 405 not mergeable."""
    number = make_pr(fake)
    fake.commit_files(REPO, "main", {"src/app.py": "print('conflict')\n"})
    got = call("PUT", f"{R}/pulls/{number}/merge", {})
    assert (got.status, got.body["message"]) == (405, "Pull Request is not mergeable")


def test_squash_merge_leaves_one_parent(fake: FakeGitHub, call: Any) -> None:
    """A squash merge writes a single-parent commit on the base branch."""
    number = make_pr(fake)
    sha = call("PUT", f"{R}/pulls/{number}/merge", {"merge_method": "squash"}).body["sha"]
    parents = fake.repo(REPO).git.git("rev-list", "--parents", "-n", "1", sha).split()[1:]
    assert (len(parents), fake.repo(REPO).git.resolve("refs/heads/main")) == (1, sha)


def test_merging_closes_the_issues_its_body_names_with_closing_keywords(
    fake: FakeGitHub, call: Any
) -> None:
    """Like GitHub, a merge into the default branch closes "Fixes #N" issues as completed."""
    first = fake.create_issue(REPO, "one", as_user="bob").number
    second = fake.create_issue(REPO, "two", as_user="bob").number
    untouched = fake.create_issue(REPO, "three", as_user="bob").number
    number = make_pr(fake)
    call(
        "PATCH",
        f"{R}/pulls/{number}",
        {"body": f"Fixes #{first}, resolves: #{second}. See #{untouched}"},
    )
    call("PUT", f"{R}/pulls/{number}/merge", {})
    states = [
        (fake.issue(REPO, n).state, fake.issue(REPO, n).state_reason)
        for n in (first, second, untouched)
    ]
    assert states == [("closed", "completed"), ("closed", "completed"), ("open", None)]


def test_check_run_output_text_is_readable(fake: FakeGitHub, call: Any) -> None:
    """A failing check run's output text comes back from GET check-runs/{id}."""
    sha = fake.repo(REPO).git.resolve("refs/heads/main")
    made = call(
        "POST",
        f"{R}/check-runs",
        {
            "name": "tests",
            "head_sha": sha,
            "conclusion": "failure",
            "output": {"title": "t", "summary": "s", "text": "AssertionError"},
        },
    )
    got = call("GET", f"{R}/check-runs/{made.body['id']}")
    assert (got.body["status"], got.body["output"]["text"]) == ("completed", "AssertionError")


def test_check_runs_for_ref_are_listed(fake: FakeGitHub, call: Any) -> None:
    """GET commits/{ref}/check-runs lists the ref's check runs with total_count."""
    sha = fake.repo(REPO).git.resolve("refs/heads/main")
    assert sha is not None
    fake.add_check_run(REPO, sha, "lint", "success", as_user="alice")
    got = call("GET", f"{R}/commits/main/check-runs")
    assert (got.body["total_count"], got.body["check_runs"][0]["name"]) == (1, "lint")


def app_jwt(
    app_id: int, key: Any = "an-unchecked-signing-key-of-32-bytes", alg: str = "HS256"
) -> str:
    """Return a GitHub-App-style JWT issued by ``app_id``."""
    now = int(time.time())
    return jwt.encode({"iat": now - 60, "exp": now + 540, "iss": str(app_id)}, key, algorithm=alg)


def test_app_token_authenticates_as_bot(fake: FakeGitHub, call: Any) -> None:
    """An installation token minted with a JWT works as auth and acts as the app's bot."""
    fake.register_app(42, slug="factory")
    inst = call(
        "GET", f"{R}/installation", token=None, headers={"Authorization": f"Bearer {app_jwt(42)}"}
    ).body["id"]
    minted = call(
        "POST",
        f"/app/installations/{inst}/access_tokens",
        token=None,
        headers={"Authorization": f"Bearer {app_jwt(42)}"},
    )
    # GitHub has no /user for an installation token (403): what it writes shows who it is.
    made = call("POST", f"{R}/issues", {"title": "from the app"}, token=minted.body["token"])
    assert (minted.status, "expires_at" in minted.body, made.body["user"]["login"]) == (
        201,
        True,
        "factory[bot]",
    )


def test_jwt_from_another_app_is_401(fake: FakeGitHub, call: Any) -> None:
    """A JWT whose iss is not the registered app id is refused with 401."""
    fake.register_app(42)
    inst = fake.installation_id(REPO)
    got = call(
        "POST",
        f"/app/installations/{inst}/access_tokens",
        token=None,
        headers={"Authorization": f"Bearer {app_jwt(7)}"},
    )
    assert got.status == 401


@pytest.mark.parametrize(
    ("signer", "status"), [("right", 201), ("wrong", 401)], ids=["registered-key", "other-key"]
)
def test_jwt_signature_checked_with_registered_key(
    fake: FakeGitHub, call: Any, signer: str, status: int
) -> None:
    """With a registered public key, only JWTs signed by its private key mint tokens."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    keys = {
        name: rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for name in ("right", "wrong")
    }
    public = (
        keys["right"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    fake.register_app(42, public_key=public)
    token = app_jwt(42, keys[signer], "RS256")
    got = call(
        "POST",
        f"/app/installations/{fake.installation_id(REPO)}/access_tokens",
        token=None,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert got.status == status


def test_labeled_webhook_has_recorded_shape(fake: FakeGitHub, data_dir: Path) -> None:
    """The issues.labeled webhook has the recorded payload's top-level keys."""
    recorded = json.loads((data_dir / "github-api/webhooks/issues.labeled.9.json").read_text())
    fake.create_issue(REPO, "x", as_user="bob")
    fake.add_labels(REPO, 1, "bug", as_user="alice")
    event, payload = fake.webhook_log[-1]
    assert (event, payload["action"], set(payload)) == ("issues", "labeled", set(recorded))


def test_comment_webhook_reaches_on_event(fake: FakeGitHub, data_dir: Path) -> None:
    """on_event receives issue_comment.created with the recorded top-level keys."""
    recorded = json.loads(
        (data_dir / "github-api/webhooks/issue_comment.created.0.json").read_text()
    )
    seen: list[tuple[str, dict[str, Any]]] = []
    fake.on_event = lambda event, payload: seen.append((event, payload))
    fake.create_issue(REPO, "x", as_user="bob")
    fake.comment(REPO, 1, "hello", as_user="eve")
    event, payload = seen[-1]
    assert (event, payload["comment"]["user"]["login"], set(payload)) == (
        "issue_comment",
        "eve",
        set(recorded),
    )


def test_pr_opened_webhook_has_recorded_keys(fake: FakeGitHub, data_dir: Path) -> None:
    """The pull_request.opened webhook has the recorded payload's top-level keys."""
    recorded = json.loads((data_dir / "github-api/webhooks/pull_request.opened.0.json").read_text())
    make_pr(fake)
    event, payload = fake.webhook_log[-1]
    assert (event, payload["action"], set(payload)) == ("pull_request", "opened", set(recorded))
