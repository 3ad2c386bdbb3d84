"""FakeGitHub answers the recorded real GitHub scenarios the same way (tests/data/github-api)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from factory.testing.fake_github import FakeGitHub

RATE_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-used",
    "x-ratelimit-resource",
    "x-github-request-id",
)
ORG = "octokit-fixture-org"


def recording(data_dir: Path, name: str) -> list[dict[str, Any]]:
    """Return the recorded request/response pairs of one scenario."""
    pairs: list[dict[str, Any]] = json.loads((data_dir / "github-api" / name).read_text())
    return pairs


def keys(body: Any) -> set[str]:
    """Return the keys of a body, or of its first item when it is a list."""
    item = body[0] if isinstance(body, list) else body
    return set(item)


def replay(call: Callable[..., Any], pair: dict[str, Any], **override: Any) -> Any:
    """Send one recorded request (method, path, body) to the fake, with overrides."""
    body = override.get("body", pair["body"] or None)
    return call(pair["method"].upper(), override.get("path", pair["path"]), body)


@pytest.fixture
def octo(fake: FakeGitHub) -> FakeGitHub:
    """The fake with the recordings' user registered under the token ``t-alice``'s twin."""
    fake.add_user("octokit-fixture-user-a", token="t-octo", permission="admin")
    return fake


def test_get_repository_matches_recording(octo: FakeGitHub, call: Any, data_dir: Path) -> None:
    """GET /repos/{o}/{r} answers 200 with every key of the recorded repository."""
    octo.create_repo(f"{ORG}/hello-world")
    (pair,) = recording(data_dir, "get-repository.json")
    got = replay(call, pair)
    assert (got.status, keys(got.body)) == (pair["status"], keys(pair["response"]))


def test_every_reply_carries_rate_limit_headers(
    octo: FakeGitHub, call: Any, data_dir: Path
) -> None:
    """Replies carry the rate-limit and request-id headers the recordings show."""
    octo.create_repo(f"{ORG}/hello-world")
    (pair,) = recording(data_dir, "get-repository.json")
    got = replay(call, pair)
    assert set(RATE_HEADERS) <= set(got.headers) and set(RATE_HEADERS) <= set(pair["headers"])


def test_labels_scenario_matches_recording(octo: FakeGitHub, call: Any, data_dir: Path) -> None:
    """List, create, get, rename and delete a label answer like the recording, step by step."""
    octo.create_repo(f"{ORG}/labels")
    seen = []
    for pair in recording(data_dir, "labels.json"):
        got = replay(call, pair)
        same_keys = pair["status"] == 204 or keys(got.body) == keys(pair["response"])
        seen.append((got.status, same_keys, "location" in got.headers))
    expected = [
        (p["status"], True, "location" in p["headers"]) for p in recording(data_dir, "labels.json")
    ]
    assert seen == expected


def test_renamed_label_keeps_recorded_name_and_color(
    octo: FakeGitHub, call: Any, data_dir: Path
) -> None:
    """PATCH new_name/color answers with the recorded name and color."""
    octo.create_repo(f"{ORG}/labels")
    pairs = recording(data_dir, "labels.json")
    replay(call, pairs[1])
    got = replay(call, pairs[3])
    assert (got.body["name"], got.body["color"]) == (
        pairs[3]["response"]["name"],
        pairs[3]["response"]["color"],
    )


def test_add_labels_to_issue_matches_recording(octo: FakeGitHub, call: Any, data_dir: Path) -> None:
    """Create an issue then add three labels: same statuses, names and issue keys."""
    octo.create_repo(f"{ORG}/add-labels-to-issue")
    create, add = recording(data_dir, "add-labels-to-issue.json")
    issue = replay(call, create)
    labels = replay(call, add)
    assert (
        issue.status,
        keys(issue.body),
        labels.status,
        [x["name"] for x in labels.body],
        [x["color"] for x in labels.body],
    ) == (
        create["status"],
        keys(create["response"]),
        add["status"],
        [x["name"] for x in add["response"]],
        [x["color"] for x in add["response"]],
    )


def test_invalid_label_color_gives_recorded_422(
    octo: FakeGitHub, call: Any, data_dir: Path
) -> None:
    """A bad label color answers 422 with exactly the recorded error body."""
    octo.create_repo(f"{ORG}/errors")
    (pair,) = recording(data_dir, "errors.json")
    got = replay(call, pair)
    assert (got.status, got.body) == (pair["status"], pair["response"])


def test_git_refs_scenario_matches_recording(octo: FakeGitHub, call: Any, data_dir: Path) -> None:
    """List, create, update, list, delete refs: same statuses, shapes and list lengths."""
    repo = octo.create_repo(f"{ORG}/git-refs")
    older = repo.git.resolve("refs/heads/main")
    newer = octo.commit_files(f"{ORG}/git-refs", "main", {"x.txt": "x\n"})
    shas = {"0" * 39 + "1": newer, "0" * 39 + "2": older}
    seen, expected = [], []
    for pair in recording(data_dir, "git-refs.json"):
        body = {k: shas.get(v, v) for k, v in (pair["body"] or {}).items()} or None
        got = replay(call, pair, body=body)
        size = len(got.body) if isinstance(got.body, list) else None
        want = len(pair["response"]) if isinstance(pair["response"], list) else None
        seen.append(
            (got.status, size, got.status == 204 or keys(got.body) == keys(pair["response"]))
        )
        expected.append((pair["status"], want, True))
    assert seen == expected


@pytest.mark.parametrize("page", [0, 1, 2, 3, 4], ids=lambda p: f"page{p + 1}")
def test_paginated_issues_link_header_matches_recording(
    octo: FakeGitHub, call: Any, data_dir: Path, page: int
) -> None:
    """Each page of 13 issues at per_page=3 has the recorded Link header, host and id aside."""
    repo = octo.create_repo(f"{ORG}/paginate-issues")
    for n in range(1, 14):
        octo.create_issue(f"{ORG}/paginate-issues", f"Test issue {n}", as_user="alice")
    pair = recording(data_dir, "paginate-issues.json")[page]
    got = replay(
        call, pair, path=pair["path"].replace("/repositories/1000/", f"/repositories/{repo.id}/")
    )
    want = (
        pair["headers"]["link"]
        .replace("https://api.github.com", octo.api_url)
        .replace("/repositories/1000/", f"/repositories/{repo.id}/")
    )
    assert (got.status, got.headers["link"], [i["title"] for i in got.body]) == (
        200,
        want,
        [i["title"] for i in pair["response"]],
    )


def test_search_issues_matches_recording(octo: FakeGitHub, call: Any, data_dir: Path) -> None:
    """A text + repo: search finds the recorded issues, in the recorded order and shape."""
    name = f"{ORG}/search-issues"
    octo.create_repo(name)
    octo.create_repo(f"{ORG}/elsewhere")
    (pair,) = recording(data_dir, "search-issues.json")
    for item in sorted(pair["response"]["items"], key=lambda i: i["number"]):
        octo.create_issue(name, item["title"], item["body"], as_user="bob")
    octo.create_issue(name, "unrelated", "nothing here", as_user="bob")
    octo.create_issue(f"{ORG}/elsewhere", "open sesame", as_user="bob")
    got = replay(call, pair)
    assert (
        got.status,
        keys(got.body),
        [i["title"] for i in got.body["items"]],
        keys(got.body["items"]) - {"score"},
        got.headers["x-ratelimit-resource"],
    ) == (
        200,
        keys(pair["response"]),
        [i["title"] for i in pair["response"]["items"]],
        keys(pair["response"]["items"]) - {"score"},
        pair["headers"]["x-ratelimit-resource"],
    )


def test_create_status_scenario_matches_recording(
    octo: FakeGitHub, call: Any, data_dir: Path
) -> None:
    """Two statuses, then list and combined status: same statuses, order, state and keys."""
    repo = octo.create_repo(f"{ORG}/create-status")
    sha = repo.git.resolve("refs/heads/main")
    assert sha is not None
    seen, expected = [], []
    for pair in recording(data_dir, "create-status.json"):
        got = replay(call, pair, path=pair["path"].replace("0" * 39 + "1", sha))
        body, want = got.body, pair["response"]
        if isinstance(want, list):
            summary: Any = [x["context"] for x in body], [x["context"] for x in want]
        elif "statuses" in want:
            summary = (
                (body["state"], keys(body), [s["context"] for s in body["statuses"]]),
                (want["state"], keys(want), [s["context"] for s in want["statuses"]]),
            )
        else:
            summary = keys(body), keys(want)
        seen.append((got.status, summary[0]))
        expected.append((pair["status"], summary[1]))
    assert seen == expected
