"""FakeGitHub's rate limits and App identity, answered the way GitHub answers them."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from factory.testing.fake_github import FakeGitHub

REPO = "acme/widgets"
R = f"/repos/{REPO}"
RATE_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
    "x-ratelimit-used",
)


def app_jwt(app_id: int) -> str:
    """Return an unsigned-checked GitHub-App-style JWT issued by ``app_id``."""
    now = int(time.time())
    claims = {"iat": now - 60, "exp": now + 540, "iss": str(app_id)}
    return jwt.encode(claims, "an-unchecked-signing-key-of-32-bytes", algorithm="HS256")


def installation_token(fake: FakeGitHub, call: Any) -> str:
    """Mint an installation token for the test repo through the JWT route."""
    fake.register_app(42, slug="factory")
    minted = call(
        "POST",
        f"/app/installations/{fake.installation_id(REPO)}/access_tokens",
        token=None,
        headers={"Authorization": f"Bearer {app_jwt(42)}"},
    )
    return str(minted.body["token"])


@pytest.mark.parametrize("status", [403, 429], ids=["403", "429"])
def test_primary_limit_is_answered_without_retry_after(
    fake: FakeGitHub, call: Any, status: int
) -> None:
    """A spent primary limit answers the status with remaining 0 and a reset, and no retry-after."""
    fake.inject_primary_rate_limit(reset_in=30, status=status)
    got = call("GET", R)
    assert (got.status, got.headers["x-ratelimit-remaining"], "retry-after" in got.headers) == (
        status,
        "0",
        False,
    )


def test_primary_limit_body_is_githubs(fake: FakeGitHub, call: Any) -> None:
    """The primary-limit body is GitHub's message naming the user id, and a documentation_url."""
    fake.inject_primary_rate_limit(reset_in=30)
    user_id = fake.hub.users["alice"].id
    got = call("GET", R)
    assert (sorted(got.body), got.body["message"]) == (
        ["documentation_url", "message"],
        f"API rate limit exceeded for user ID {user_id}.",
    )


def test_primary_limit_reset_header_is_when_it_ends(fake: FakeGitHub, call: Any) -> None:
    """x-ratelimit-reset of a spent limit is the epoch second at which it ends."""
    before = time.time()
    fake.inject_primary_rate_limit(reset_in=30)
    reset = int(call("GET", R).headers["x-ratelimit-reset"])
    assert before + 29 <= reset <= before + 32


def test_primary_limit_ends_at_its_reset(fake: FakeGitHub, call: Any) -> None:
    """Requests are refused until the reset second has passed, then answered again."""
    fake.inject_primary_rate_limit(reset_in=1)
    first = call("GET", R).status
    time.sleep(2.1)
    assert (first, call("GET", R).status) == (403, 200)


def test_primary_limit_lasts_for_every_request_until_reset(fake: FakeGitHub, call: Any) -> None:
    """A spent limit is not a one-shot: a second request before the reset is refused too."""
    fake.inject_primary_rate_limit(reset_in=30, status=429)
    assert [call("GET", R).status, call("GET", f"{R}/issues").status] == [429, 429]


def test_primary_limit_of_an_installation_names_the_installation(
    fake: FakeGitHub, call: Any
) -> None:
    """An installation token's primary-limit message names the installation id."""
    token = installation_token(fake, call)
    fake.inject_primary_rate_limit(reset_in=30)
    got = call("GET", R, token=token)
    expected = f"API rate limit exceeded for installation ID {fake.installation_id(REPO)}."
    assert got.body["message"] == expected


def test_search_limit_does_not_spend_core(fake: FakeGitHub, call: Any) -> None:
    """A spent ``search`` limit refuses searches only; core requests are still answered."""
    fake.inject_primary_rate_limit(reset_in=30, resource="search")
    search = call("GET", f"/search/issues?q=repo:{REPO}")
    assert (search.status, search.headers["x-ratelimit-resource"], call("GET", R).status) == (
        403,
        "search",
        200,
    )


def test_spending_the_whole_quota_is_a_primary_limit(fake: FakeGitHub, call: Any) -> None:
    """The request after the last one of the quota is refused like a spent primary limit."""
    fake.set_rate_limit("core", 2)
    statuses = [call("GET", R).status for _ in range(3)]
    assert statuses == [200, 200, 403]


def test_secondary_limit_has_retry_after_and_its_message(fake: FakeGitHub, call: Any) -> None:
    """A secondary limit answers retry-after and GitHub's secondary-limit message."""
    fake.inject_secondary_rate_limit(retry_after=60, status=403)
    got = call("GET", R)
    assert (got.status, got.headers["retry-after"], got.body["message"].split(".")[0]) == (
        403,
        "60",
        "You have exceeded a secondary rate limit",
    )


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", R, 200), ("GET", f"{R}/nope-nothing-here", 404), ("POST", f"{R}/issues", 422)],
    ids=["ok", "not-found", "invalid"],
)
def test_every_answer_carries_rate_limit_headers(
    call: Any, method: str, path: str, status: int
) -> None:
    """Normal and error answers all carry the five x-ratelimit-* headers, like GitHub's."""
    got = call(method, path, {} if method == "POST" else None)
    assert (got.status, [h in got.headers for h in RATE_HEADERS]) == (status, [True] * 5)


def test_used_counts_up_and_remaining_down(call: Any) -> None:
    """Two requests: used goes 1 → 2 and remaining limit-1 → limit-2."""
    first, second = call("GET", R).headers, call("GET", R).headers
    limit = int(first["x-ratelimit-limit"])
    got = [(h["x-ratelimit-used"], h["x-ratelimit-remaining"]) for h in (first, second)]
    assert got == [("1", str(limit - 1)), ("2", str(limit - 2))]


def test_not_modified_answer_does_not_count(call: Any) -> None:
    """A 304 for a matching ETag is not counted against the limit, as on GitHub."""
    first = call("GET", R).headers
    call("GET", R, headers={"If-None-Match": first["etag"]})
    assert call("GET", R).headers["x-ratelimit-used"] == "2"


def test_user_endpoint_refuses_installation_tokens(fake: FakeGitHub, call: Any) -> None:
    """GET /user with an installation token answers 403 Resource not accessible by integration."""
    got = call("GET", "/user", token=installation_token(fake, call))
    assert (got.status, got.body["message"]) == (403, "Resource not accessible by integration")


def test_user_endpoint_answers_a_personal_token(call: Any) -> None:
    """GET /user with a user's token answers that user."""
    assert call("GET", "/user").body["login"] == "alice"


def test_app_endpoint_answers_the_slug_to_its_jwt(fake: FakeGitHub, call: Any) -> None:
    """GET /app with the App's JWT answers its id and slug."""
    fake.register_app(42, slug="acme-factory")
    got = call("GET", "/app", token=None, headers={"Authorization": f"Bearer {app_jwt(42)}"})
    assert (got.status, got.body["id"], got.body["slug"]) == (200, 42, "acme-factory")


def test_app_endpoint_refuses_an_installation_token(fake: FakeGitHub, call: Any) -> None:
    """GET /app needs the JWT: an installation token is refused with 401."""
    got = call("GET", "/app", token=installation_token(fake, call))
    assert got.status == 401
