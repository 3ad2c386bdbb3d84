"""Injection payloads show as text, secrets never leave, tokens and CSRF guard the viewer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from factory.logs import redactor
from factory.settings import Settings
from factory.store import RunStore
from factory.web.auth import check_bind
from factory.web.csrf import CsrfTokens
from factory.web.steps import TEXT_LIMIT
from tests.web.conftest import CANARY, INJECTIONS, TOKEN, Seeded, manual_enqueuer


def every_page(seeded: Seeded) -> list[str]:
    """Return every page and JSON twin that can show seeded text."""
    run = seeded.finished
    pages = ["/runs", "/runs/rows", f"/runs/{run}", f"/runs/{run}/steps?after=0"]
    pages += ["/automations", "/factory", "/search?q=fix", "/search?q=login&in=subject"]
    pages += ["/search?q=budget&in=error", "/search?q=onerror"]
    jsons = ["/runs.json", f"/runs/{run}.json", "/automations.json", "/factory.json"]
    jsons += ["/search.json?q=fix", "/search.json?q=login&in=subject", "/search.json?q=onerror"]
    jsons += [f"/runs/{run}/steps/{seq}.json" for seq in range(1, 7)]
    return pages + jsons


def test_injection_payloads_never_appear_raw(client: httpx.Client, seeded: Seeded) -> None:
    """No page or JSON answer contains an injection payload's markup unescaped."""
    raw = [
        (path, payload)
        for path in every_page(seeded)
        for payload in ("<script>alert", "<img src=x", '"><img')
        if payload in client.get(path).text
    ]
    assert raw == []


@pytest.mark.parametrize(
    "path",
    ["/runs", "/runs/{finished}", "/search?q=login&in=subject"],
    ids=["runs", "run", "search"],
)
def test_issue_title_shows_as_text(client: httpx.Client, seeded: Seeded, path: str) -> None:
    """The issue title's <script> payload is rendered as escaped text."""
    page = client.get(path.format(finished=seeded.finished)).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_agent_message_and_tool_result_show_as_text(client: httpx.Client, seeded: Seeded) -> None:
    """The agent message and tool result payloads show escaped on the run page."""
    page = client.get(f"/runs/{seeded.finished}").text
    assert page.count("&#34;&gt;&lt;img src=x onerror=alert(2)&gt;") >= 3


def test_json_keeps_the_payload_as_data(client: httpx.Client, seeded: Seeded) -> None:
    """The JSON twin carries the title unchanged as data (markup characters \\u-escaped)."""
    runs = client.get("/runs.json", params={"subject": "issue:12"}).json()["runs"]
    assert INJECTIONS[0] in runs[0]["subject_title"]


def test_javascript_subject_url_is_not_linked(client: httpx.Client, seeded: Seeded) -> None:
    """A javascript: subject URL never becomes a link target."""
    assert "javascript:" not in client.get(f"/runs/{seeded.finished}").text


def test_pages_carry_a_content_security_policy(client: httpx.Client) -> None:
    """Pages forbid inline scripts through a Content-Security-Policy."""
    assert "script-src 'self'" in client.get("/runs").headers["content-security-policy"]


def test_canary_secret_never_served(client: httpx.Client, seeded: Seeded) -> None:
    """No page or JSON answer contains the canary secret stored in step payloads and text."""
    leaks = [path for path in every_page(seeded) if CANARY in client.get(path).text]
    assert leaks == []


def test_canary_from_settings_is_scrubbed(
    monkeypatch: pytest.MonkeyPatch,
    writer: RunStore,
    client_for: Callable[..., httpx.Client],
) -> None:
    """A secret from Settings, once loaded into the redactor, is never served."""
    secret = "ghp_settingscanary0123456789"
    monkeypatch.setenv("GITHUB_TOKEN", secret)
    redactor.add(Settings(_env_file=None).secret_values())
    run = writer.create_run("builder")
    writer.add_step(run, "tool_result", {"content": secret}, text=f"leaked {secret}")
    client = client_for(writer)
    bodies = [client.get(p).text for p in (f"/runs/{run}", f"/runs/{run}/steps/1.json")]
    assert [secret in body for body in bodies] == [False, False]


def test_token_missing_is_401(reader: RunStore, client_for: Callable[..., httpx.Client]) -> None:
    """With a token configured, a request without it answers 401."""
    assert client_for(reader, token=TOKEN).get("/runs").status_code == 401


def test_token_wrong_is_403(reader: RunStore, client_for: Callable[..., httpx.Client]) -> None:
    """With a token configured, a wrong bearer token answers 403."""
    client = client_for(reader, token=TOKEN)
    assert client.get("/runs", headers={"Authorization": "Bearer nope"}).status_code == 403


def test_token_as_bearer_is_200(reader: RunStore, client_for: Callable[..., httpx.Client]) -> None:
    """The right bearer token is let in."""
    client = client_for(reader, token=TOKEN)
    assert client.get("/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_token_in_query_sets_cookie(
    reader: RunStore, client_for: Callable[..., httpx.Client]
) -> None:
    """?token= sets a cookie and redirects; the cookie then lets later requests in."""
    client = client_for(reader, token=TOKEN)
    first = client.get("/runs.json", params={"token": TOKEN, "status": "failed"})
    assert (first.status_code, first.headers["location"], client.get("/factory").status_code) == (
        303,
        "/runs.json?status=failed",
        200,
    )


def test_token_guards_static_files(
    reader: RunStore, client_for: Callable[..., httpx.Client]
) -> None:
    """Even static files need the token."""
    assert client_for(reader, token=TOKEN).get("/static/style.css").status_code == 401


def test_binding_beyond_loopback_needs_a_token() -> None:
    """serve_viewer refuses a non-loopback address without a token."""
    with pytest.raises(ValueError, match="not loopback"):
        check_bind("0.0.0.0", None)


def test_run_now_without_csrf_token_is_403(
    writer: RunStore, db_path: Path, client_for: Callable[..., httpx.Client]
) -> None:
    """POSTing Run now without the CSRF token is refused with 403."""
    client = client_for(writer, enqueue_manual=manual_enqueuer(db_path))
    assert client.post("/automations/builder/run").status_code == 403


def test_run_now_with_another_automations_token_is_403(
    writer: RunStore, db_path: Path, client_for: Callable[..., httpx.Client]
) -> None:
    """A CSRF token issued for one automation does not run another."""
    client = client_for(writer, enqueue_manual=manual_enqueuer(db_path), csrf_secret=b"k" * 32)
    token = CsrfTokens(b"k" * 32).token("run:triage")
    response = client.post("/automations/builder/run", data={"csrf_token": token})
    assert response.status_code == 403


def test_run_now_standalone_is_409(
    reader: RunStore, client_for: Callable[..., httpx.Client]
) -> None:
    """A standalone viewer answers Run now (with a valid token) with 409."""
    client = client_for(reader, csrf_secret=b"k" * 32)
    token = CsrfTokens(b"k" * 32).token("run:builder")
    response = client.post("/automations/builder/run", data={"csrf_token": token})
    assert (response.status_code, "standalone" in response.text) == (409, True)


def test_run_now_queues_a_manual_run(
    writer: RunStore, db_path: Path, client_for: Callable[..., httpx.Client]
) -> None:
    """Run now with the CSRF token queues a manual run and redirects to it."""
    client = client_for(writer, enqueue_manual=manual_enqueuer(db_path), csrf_secret=b"k" * 32)
    token = CsrfTokens(b"k" * 32).token("run:builder")
    response = client.post("/automations/builder/run", data={"csrf_token": token})
    run = client.get(response.headers["location"] + ".json").json()
    assert (response.status_code, run["status"], run["source"]) == (303, "queued", "manual")


@pytest.mark.parametrize("q", ["canary", "SECRET", "7f3a9c2e51d04b8e", "key canary"], ids=str)
def test_search_for_part_of_a_secret_never_shows_any_of_it(client: httpx.Client, q: str) -> None:
    """Searching for a piece of the canary shows no piece of the secret; the step holding it
    (found by the word beside it: the store keeps the secret redacted) shows it redacted."""
    page = "".join(
        client.get(path, params={"q": query}).text
        for query in (q, "key")
        for path in ("/search", "/search.json")
    )
    pieces = [p for p in ("canary-SECRET", "SECRET-7f3a", "[redacted]") if p in page]
    assert pieces == ["[redacted]"]


def test_secret_across_the_text_cut_is_not_half_shown(
    writer: RunStore, client_for: Callable[..., httpx.Client]
) -> None:
    """A secret straddling the page's text limit is scrubbed before the text is cut."""
    run = writer.create_run("builder")
    writer.add_step(run, "tool_result", {}, text="x" * (TEXT_LIMIT - 10) + CANARY)
    client = client_for(writer)
    bodies = client.get(f"/runs/{run}").text + client.get(f"/runs/{run}.json").text
    assert CANARY[:10] not in bodies
