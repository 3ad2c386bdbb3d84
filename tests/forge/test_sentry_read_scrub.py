"""The sentry_read tool scrubs what Sentry captured, one class per test: the run's and the
process's secrets, the Sentry token, auth headers, cookies, query strings, form data, env,
e-mails, IP addresses, card numbers and values under keys Sentry treats as sensitive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from factory.agent.model import AnthropicModel
from factory.agent.session import Session, SessionConfig
from factory.agent.tools import ToolRegistry
from factory.forge.sentry_read import SentryReader, sentry_read_tool
from factory.forge.sentry_scrub import SENSITIVE
from factory.logs import REDACTED, redactor
from factory.sentry.client import SentryClient
from factory.sentry.side import SentrySide
from factory.store import RunStore
from factory.testing.fake_anthropic import FakeAnthropic
from factory.testing.fake_sentry import FakeSentry
from tests.conftest import SONNET_PRICES
from tests.forge.sentry_read_helpers import (
    client_of,
    frame,
    line,
    read,
    request,
    text_of,
)

DATA = Path(__file__).parent.parent / "data" / "sentry"


@pytest.fixture(scope="module")
def sentry() -> Iterator[FakeSentry]:
    """One FakeSentry per module."""
    with FakeSentry() as server:
        yield server


def test_run_secret_is_scrubbed(sentry: FakeSentry) -> None:
    """A value among the run's secrets is replaced wherever Sentry shows it."""
    secret = "correct-horse-battery-staple"
    issue_id = sentry.add_issue(title=f"ValueError: {secret}", message=f"with {secret}")
    text = read(sentry, issue_id, (secret,)).content
    assert (secret in text, line(text, "message:")) == (False, f"message: with {REDACTED}")


def test_process_redactor_secret_is_scrubbed(sentry: FakeSentry) -> None:
    """A value the process-wide redactor knows is replaced (the daemon's configured secrets)."""
    secret = "redactor-known-value-4471"
    redactor.add([secret])
    text = text_of(sentry, message=f"leaked {secret}")
    assert line(text, "message:") == f"message: leaked {REDACTED}"


def test_sentry_token_never_appears(sentry: FakeSentry) -> None:
    """The Sentry token planted in message, exception, breadcrumb and request is not shown."""
    token = sentry.token
    issue_id = sentry.add_issue(
        title=f"PermissionError: token {token} refused",
        message=f"auth with {token}",
        breadcrumbs=[{"category": "http", "message": f"GET /x?t={token}"}],
        request=request(headers=[["X-Debug", token]], data=f"t={token}"),
    )
    ok, failed = read(sentry, issue_id), read(sentry, "888888")
    assert (token in ok.content, token in failed.content, ok.is_error) == (False, False, False)


def test_authorization_headers_are_scrubbed(sentry: FakeSentry) -> None:
    """Authorization, Proxy-Authorization and X-Api-Key header values are removed."""
    headers = [
        ["Authorization", "Basic YWxpY2U6cGFzcw=="],
        ["Proxy-Authorization", "Bearer abcdefgh12345"],
        ["X-Api-Key", "k_live_998877"],
        ["Accept", "text/html"],
    ]
    text = text_of(sentry, request=request(headers=headers))
    assert line(text, "headers:") == (
        f"headers: Authorization={REDACTED}; Proxy-Authorization={REDACTED}; "
        f"X-Api-Key={REDACTED}; Accept=text/html"
    )


def test_bearer_credentials_in_free_text_are_scrubbed(sentry: FakeSentry) -> None:
    """A ``Bearer …`` credential inside a log message is removed."""
    text = text_of(sentry, message="upstream refused Bearer eyQ8aaa91bbb7ccc")
    assert line(text, "message:") == f"message: upstream refused Bearer {REDACTED}"


def test_values_that_contain_a_sensitive_word_are_scrubbed(sentry: FakeSentry) -> None:
    """A structured value that itself contains a sensitive word goes, as in Sentry's scrubbing."""
    text = text_of(sentry, request=request(query=[["q", "mysecretpass"], ["page", "2"]]))
    assert line(text, "query:") == f"query: q={REDACTED}; page=2"


def test_cookies_are_scrubbed(sentry: FakeSentry) -> None:
    """Cookie values are never shown, neither as cookies nor as the Cookie header."""
    text = text_of(
        sentry,
        request=request(
            cookies=[["theme", "dark-blue"], ["sessionid", "s3ss10nv4lue"]],
            headers=[["Cookie", "theme=dark-blue; sessionid=s3ss10nv4lue"]],
        ),
    )
    assert (line(text, "cookies"), line(text, "headers:")) == (
        f"cookies (values withheld): theme={REDACTED}; sessionid={REDACTED}",
        f"headers: Cookie={REDACTED}",
    )


def test_query_string_secrets_are_scrubbed(sentry: FakeSentry) -> None:
    """Tokens and passwords in the URL's query string and the query pairs are removed."""
    text = text_of(
        sentry,
        request=request(
            url="https://web.example.com/login?access_token=tok999&next=/home&password=pw1",
            query=[["access_token", "tok999"], ["next", "/home"], ["password", "pw1"]],
        ),
    )
    assert (line(text, "request:"), line(text, "query:")) == (
        f"request: GET https://web.example.com/login?access_token={REDACTED}&next=/home"
        f"&password={REDACTED}",
        f"query: access_token={REDACTED}; next=/home; password={REDACTED}",
    )


def test_form_data_secrets_are_scrubbed(sentry: FakeSentry) -> None:
    """Sensitive fields of form data are removed, as a mapping and as a urlencoded body."""
    mapping = text_of(sentry, request=request(data={"username": "bob", "passwd": "hunter2"}))
    encoded = text_of(sentry, request=request(data="username=bob&csrfmiddlewaretoken=abc77"))
    assert (line(mapping, "data:"), line(encoded, "data:")) == (
        f"data: {{username: bob, passwd: {REDACTED}}}",
        f"data: username=bob&csrfmiddlewaretoken={REDACTED}",
    )


def test_env_secrets_are_scrubbed(sentry: FakeSentry) -> None:
    """Environment values under sensitive names are removed; others stay."""
    env = {"SERVER_NAME": "web-1", "DATABASE_PASSWORD": "pg-pass", "MYSQL_PWD": "my-pass"}
    text = text_of(sentry, request=request(env=env))
    assert line(text, "env:") == (
        f"env: SERVER_NAME=web-1; DATABASE_PASSWORD={REDACTED}; MYSQL_PWD={REDACTED}"
    )


def test_emails_are_scrubbed(sentry: FakeSentry) -> None:
    """E-mail addresses in the message, breadcrumbs, extra and user are not shown."""
    text = text_of(
        sentry,
        message="no account for carol.smith+test@example.org",
        breadcrumbs=[{"category": "auth", "message": "login carol.smith+test@example.org"}],
        extra={"recipient": "carol.smith+test@example.org"},
        user={"email": "carol.smith+test@example.org", "username": "carol"},
    )
    assert ("carol.smith" in text, line(text, "message:")) == (
        False,
        "message: no account for [email]",
    )


def test_ip_addresses_are_scrubbed(sentry: FakeSentry) -> None:
    """IPv4 and IPv6 addresses are replaced; loopback stays (it names no one)."""
    text = text_of(
        sentry,
        message="from 203.0.113.77 via 2001:db8:85a3::8a2e:370:7334 to 127.0.0.1",
        request=request(env={"REMOTE_ADDR": "198.51.100.23"}),
        user={"ip_address": "192.0.2.44"},
    )
    leaked = [
        ip for ip in ("203.0.113.77", "2001:db8", "198.51.100.23", "192.0.2.44") if ip in text
    ]
    assert (leaked, line(text, "message:")) == ([], "message: from [ip] via [ip] to 127.0.0.1")


def test_version_numbers_are_not_taken_for_ips(sentry: FakeSentry) -> None:
    """A four-part version with a part above 255 and a clock time are left alone."""
    text = text_of(sentry, message="Chrome 83.0.4103.97 at 12:30:45")
    assert line(text, "message:") == "message: Chrome 83.0.4103.97 at 12:30:45"


@pytest.mark.parametrize("key", SENSITIVE, ids=SENSITIVE)
def test_sensitive_keys_are_scrubbed(sentry: FakeSentry, key: str) -> None:
    """A value under a key Sentry treats as sensitive is removed from the extra data."""
    text = text_of(sentry, extra={f"my_{key}_field": "plainvalue42"}, request=None)
    assert line(text, "extra:") == f"extra: {{my_{key}_field: {REDACTED}}}"


def test_sensitive_keys_in_breadcrumb_data_are_scrubbed(sentry: FakeSentry) -> None:
    """Breadcrumb data under sensitive keys is removed, the rest kept."""
    crumb = {"category": "rpc", "data": {"method": "charge", "apiKey": "ak_55"}}
    text = text_of(sentry, breadcrumbs=[crumb])
    assert line(text, "[info] default/rpc") == (
        f"[info] default/rpc {{method: charge, apiKey: {REDACTED}}}"
    )


def test_key_value_secrets_in_messages_are_scrubbed(sentry: FakeSentry) -> None:
    """``password=…`` and ``"token": "…"`` inside free text lose their values."""
    text = text_of(sentry, message='login failed password=hunter2 body {"token": "t-123"}')
    assert line(text, "message:") == (
        f'message: login failed password={REDACTED} body {{"token": {REDACTED}}}'
    )


def test_exception_names_are_not_taken_for_keys(sentry: FakeSentry) -> None:
    """``AuthenticationError: message`` keeps its message; it is no ``auth: secret`` pair."""
    text = text_of(sentry, title="AuthenticationError: invalid credentials for user 7")
    assert [line(text, "issue "), line(text, "1. ")] == [
        f"issue {line(text, 'issue ').split(':')[0].removeprefix('issue ')}: "
        "AuthenticationError: invalid credentials for user 7",
        "1. AuthenticationError: invalid credentials for user 7 (mechanism generic, handled)",
    ]


def test_url_credentials_are_scrubbed(sentry: FakeSentry) -> None:
    """The user-info part of a URL (``user:pass@``) is removed."""
    text = text_of(sentry, message="cannot reach postgres://app:dbpass@db.internal:5432/main")
    assert line(text, "message:") == (
        f"message: cannot reach postgres://{REDACTED}@db.internal:5432/main"
    )


def test_card_numbers_are_scrubbed(sentry: FakeSentry) -> None:
    """A number that passes the Luhn check is replaced; another long number stays."""
    text = text_of(sentry, message="card 4111 1111 1111 1111 order 1234567890123")
    assert line(text, "message:") == "message: card [card] order 1234567890123"


def test_credential_shapes_are_scrubbed(sentry: FakeSentry) -> None:
    """Tokens shaped like GitHub or Slack credentials are removed although unknown."""
    text = text_of(sentry, message="ghp_" + "a1B2" * 9 + " and xoxb-1234567890-abcdefghij")
    assert line(text, "message:") == f"message: {REDACTED} and {REDACTED}"


def test_code_lines_keep_code_but_lose_literal_secrets(sentry: FakeSentry) -> None:
    """In source context a quoted secret literal goes, a code expression stays."""
    frames = [
        frame("app/cfg.py", "load", 4, True, 'API_KEY = "live-123456"'),
        frame("app/auth.py", "check", 9, True, "token = request.headers.get(name)"),
    ]
    text = text_of(sentry, frames=frames)
    assert [line(text, ">    4"), line(text, ">    9")] == [
        f">    4 | API_KEY = {REDACTED}",
        ">    9 | token = request.headers.get(name)",
    ]


def test_real_event_fixture_loses_its_pii() -> None:
    """Sentry's own example event (tests/data) renders without the user's e-mail or IP."""
    event = json.loads((DATA / "rest.issues.events.latest.json").read_text())
    issue = json.loads((DATA / "rest.organizations.issues.get.json").read_text())
    reader = SentryReader(SentryClient("http://127.0.0.1:9/api/0/", "sntrys_x", "acme"), "1")
    text = "\n".join(reader.render(issue, event))
    assert ("hell@boy.cat" in text, "192.168.1.1" in text, "Hell Boy" in text) == (False,) * 3


def test_token_reaches_neither_the_model_nor_the_store(sentry: FakeSentry, tmp_path: Path) -> None:
    """Through a real session, the Sentry token planted in an event is in no model request and
    nowhere in the run's database, while the event itself is read."""
    issue_id = sentry.add_issue(title=f"PermissionError: {sentry.token}", message=sentry.token)
    side = SentrySide(client_of(sentry), issue_id, True)
    with FakeAnthropic() as anthropic:
        anthropic.enqueue_tool_use("sentry_read", {})
        anthropic.enqueue_text("Read it.")
        model = AnthropicModel("test-key", anthropic.base_url, max_retries=0, overloaded_retries=0)
        with RunStore.open(tmp_path / "f.db") as store:
            config = SessionConfig(model="claude-sonnet-test", tools=("sentry_read",))
            registry = ToolRegistry([sentry_read_tool(side)])
            run_id = store.create_run("incident-responder")
            Session(model, registry, config, store, run_id, SONNET_PRICES.cost_usd).run(["s"], "c")
        model.close()
        sent = json.dumps(anthropic.requests)
    stored = (tmp_path / "f.db").read_bytes()
    assert (sentry.token in sent, sentry.token.encode() in stored, "PermissionError" in sent) == (
        False,
        False,
        True,
    )
